"""docker compose: the Compose Specification model, and projects on an engine.

What it owns: everything from compose files on disk to a validated,
normalised, typed project, and the plan ``up`` executes.

    discovery.py      files (-f, COMPOSE_FILE, compose.yaml up the tree, overrides),
                      project directory, .env / --env-file, project name rules
    yamlload.py       YAML 1.2 as docker compose's yaml.v3 reads it; !reset, !override;
                      duplicate keys are errors
    interpolation.py  ${VAR}, ${VAR:-d}, ${VAR?err}, ${VAR:+alt}, $$ …
    merge.py          the spec's merge rules for several files, extends and include
    schema.py         compose-spec.json validation with field paths
    normalize.py      short → long syntax, defaults, the canonical form `config` prints
    checks.py         consistency: depends_on, cycles, undefined refs, port conflicts
    model.py          typed Project / Service / ServicePort / ServiceVolume / …
    labels.py         com.docker.compose.* labels and the service config hash
    planner.py        dependency levels and plan(project, existing) → actions
    output.py         YAML/JSON as `docker compose config` prints
    loader.py         the pipeline: load_project(ProjectOptions) → LoadedProject

and projects on an engine, through the Docker Engine API only:

    engine_api.py     a service as create/network/volume requests; the project's
                      objects by label; depends_on conditions awaited
    up.py             up: the plan executed level by level, each level's services in
                      parallel threads (--scale, --wait, orphans, create's no-start)
    attached.py       attached up's --abort-on-container-exit / --exit-code-from
    control.py        pause, unpause, wait
    query.py          top, port, images, ls (projects from labels)
    cp.py             cp SERVICE:PATH both ways (tar, extracted with the data filter)
    build.py          build: services' contexts (.dockerignore) through POST /build
    distribution.py   pull, push through POST /images/create and /images/{name}/push
    lifecycle.py      down, stop, start, restart, kill, rm
    ps.py             ps rows and JSON as docker compose prints them
    logs.py           logs (-f), lines prefixed by container name
    run.py            run: one-off containers

Entry points: ``loader.load_project``, ``planner.plan``,
``planner.dependency_levels``, ``labels.config_hash``, ``up.up``,
``lifecycle.down``; errors in ``errors.py``.

It talks to engines only through the Docker Engine API client
(``dockyard.client``), so it drives Docker's engine as well as ours; it must
never import ``dockyard.engine``, ``dockyard.api`` or anything below them —
with one exception: ``build.py`` uses ``dockyard.build.dockerignore`` (a pure
matcher over the context's files) so the context sent matches ``docker build``'s.
"""
