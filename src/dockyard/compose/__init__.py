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
    up.py             up: the plan executed level by level (--scale, --wait, orphans)
    lifecycle.py      down, stop, start, restart, kill, rm
    ps.py             ps rows and JSON as docker compose prints them
    logs.py           logs (-f), lines prefixed by container name
    run.py            run: one-off containers

Entry points: ``loader.load_project``, ``planner.plan``,
``planner.dependency_levels``, ``labels.config_hash``, ``up.up``,
``lifecycle.down``; errors in ``errors.py``.

It talks to engines only through the Docker Engine API client
(``dockyard.client``), so it drives Docker's engine as well as ours; it must
never import ``dockyard.engine``, ``dockyard.api`` or anything below them.
"""
