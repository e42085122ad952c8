"""Parsing: directives, continuations, heredocs, forms, flags, errors with lines; expansion."""

from __future__ import annotations

import pytest

from dockyard.build import instructions as ins
from dockyard.build.errors import BuildError, DockerfileError
from dockyard.build.lex import expand, split
from dockyard.build.parser import parse


def test_directives_escape_and_continuations() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\nRUN echo a `\n  b\n")
    assert df.syntax == "docker/dockerfile:1"
    assert df.escape == "`"
    run = df.stages[0].instructions[0]
    assert isinstance(run, ins.Run) and run.command == ["echo a   b"] and run.line == 4


def test_every_instruction_typed_with_flags() -> None:
    text = """ARG BASE=busybox
FROM --platform=$BUILDPLATFORM ${BASE} AS Build
RUN --mount=type=cache,target=/c --network=none ["echo", "json"]
COPY --from=build --chown=1:2 --chmod=640 --link --parents --exclude=*.md a b /dst/
ADD --checksum=sha256:00 --keep-git-dir http://example.invalid/x /x
ENV A=1 B="two words"
LABEL "com.x y"=z
EXPOSE 80/tcp 53/udp
VOLUME ["/data"]
USER nobody
WORKDIR /w
SHELL ["/bin/sh", "-ec"]
STOPSIGNAL SIGKILL
HEALTHCHECK --interval=5s --retries=3 CMD true
ONBUILD RUN echo child
CMD echo hi
ENTRYPOINT ["/bin/sh"]
MAINTAINER me
"""
    df = parse(text)
    assert [a.args for a in df.global_args] == [[("BASE", "busybox")]]
    st = df.stages[0]
    assert st.name == "build" and st.source.platform == "$BUILDPLATFORM" and st.source.base == "${BASE}"
    kinds = [type(i).__name__ for i in st.instructions]
    assert kinds == ["Run", "Copy", "Copy", "KeyValues", "KeyValues", "Words", "Words", "Single", "Single",
                     "Command", "Single", "Healthcheck", "Onbuild", "Command", "Command", "Single"]
    run, copy, add = st.instructions[0], st.instructions[1], st.instructions[2]
    assert isinstance(run, ins.Run) and run.json and run.mounts == ["type=cache,target=/c"]
    assert run.network == "none"
    assert isinstance(copy, ins.Copy) and copy.from_ == "build" and copy.chown == "1:2"
    assert copy.chmod == "640" and copy.link and copy.parents and copy.exclude == ["*.md"]
    assert copy.sources == ["a", "b"] and copy.dest == "/dst/"
    assert isinstance(add, ins.Copy) and add.add and add.checksum == "sha256:00" and add.keep_git_dir
    hc = st.instructions[11]
    assert isinstance(hc, ins.Healthcheck) and hc.test == ["CMD-SHELL", "true"] and hc.retries == "3"
    ob = st.instructions[12]
    assert isinstance(ob, ins.Onbuild) and ob.trigger == "RUN echo child"


def test_heredocs() -> None:
    df = parse('FROM busybox\nRUN <<EOF\necho $HOME\nEOF\nCOPY <<"A" <<-B /d/\n$x\nA\n\tb\nB\n')
    run, copy = df.stages[0].instructions
    assert isinstance(run, ins.Run) and run.heredocs[0].content == "echo $HOME\n" and run.heredocs[0].expand
    assert isinstance(copy, ins.Copy) and copy.sources == ['<<"A"', "<<-B"]
    a, b = copy.heredocs
    assert (a.name, a.expand, a.content) == ("A", False, "$x\n")
    assert (b.name, b.chomp, b.content) == ("B", True, "b\n")


@pytest.mark.parametrize("text, line, message", [
    ("FROM busybox\nFROO x\n", 2, "unknown instruction: FROO"),
    ("FROM busybox\nCOPY --form=x a b\n", 2, "unknown flag: --form"),
    ("FROM busybox\nRUN\n", 2, "RUN requires at least one argument"),
    ("FROM busybox\nCOPY a\n", 2, "COPY requires at least two arguments"),
    ("FROM busybox\n\nRUN <<EOF\necho\n", 3, "unterminated heredoc"),
    ("FROM busybox\nONBUILD ONBUILD RUN x\n", 2, "isn't allowed as an ONBUILD trigger"),
    ("FROM busybox\nSHELL sh -c\n", 2, "SHELL requires the arguments to be in JSON form"),
    ("FROM busybox as 1bad\n", 1, "invalid name for build stage"),
    ("RUN echo\n", 1, "only ARG may come before FROM"),
    ("FROM a AS x\nFROM b AS x\n", 2, "duplicate stage name"),
])
def test_syntax_errors_name_line_and_problem(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as e:
        parse(text)
    assert e.value.line == line
    assert message in str(e.value) and f"line {line}" in str(e.value)


def test_no_from() -> None:
    with pytest.raises(DockerfileError, match="no FROM"):
        parse("ARG X=1\n")


def test_expansion() -> None:
    env = {"A": "x", "E": ""}
    assert expand("$A-${A}b", env) == "x-xb"
    assert expand("${B:-def}", env) == "def"
    assert expand("${E:-def}", env) == "def"
    assert expand("${E-def}", env) == ""
    assert expand("${A:+alt}", env) == "alt"
    assert expand("${B:+alt}", env) == ""
    assert expand("${B:-${A}z}", env) == "xz"
    assert expand("'$A'", env) == "$A"
    assert expand('"$A y"', env) == "x y"
    assert expand(r"\$A", env) == "$A"
    assert expand("`$A", env, escape="`") == "$A"
    assert split('"x y"=z a=$A', env) == ["x y=z", "a=x"]
    used: set[str] = set()
    expand("$A ${Q:-1}", env, used=used)
    assert used == {"A", "Q"}
    with pytest.raises(BuildError, match="B: must be set"):
        expand("${B:?must be set}", env)
    with pytest.raises(BuildError, match="matching single-quote"):
        expand("'open", env)
