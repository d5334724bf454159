"""Dockerfile against image history: real legacy-builder strings (docker 20.10) and BuildKit's."""

from __future__ import annotations

import pytest

from imagecheck.dockerfile import instructions, parse
from imagecheck.model import HistoryEntry
from imagecheck.stale.history import compare, expected_history

BUILDKIT = "buildkit.dockerfile.v0"
_METADATA = ("ENV ", "ARG ", "EXPOSE ", "CMD ", "WORKDIR ", "USER ", "HEALTHCHECK ", "SHELL ")


def _history(created_by: list[str], comment: str = "") -> list[HistoryEntry]:
    """An imported base layer, then one entry per line (empty unless it made a layer)."""
    out = [HistoryEntry(0, None, "", "Imported from -", False, "sha256:base")]
    for i, line in enumerate(created_by, start=1):
        layer = "#(nop) " not in line or "#(nop) COPY" in line or "#(nop) ADD" in line
        layer = layer and not line.startswith(_METADATA)
        out.append(
            HistoryEntry(i, None, line, comment, not layer, f"sha256:{i}" if layer else None)
        )
    return out


# Built with DOCKER_BUILDKIT=0 on docker 20.10.24; the history below is what it recorded.
EVERYTHING = """\
# comment
ARG BASE=imagecheck-test/base:bookworm
FROM ${BASE} AS first
RUN echo first > /first

FROM imagecheck-test/base:bookworm
ARG VERSION=1.2
ARG EMPTY
ARG OTHER=x
ENV APP_HOME=/app \\
    GREETING="hello world" PATHX=$APP_HOME/bin
ENV LEGACY value with  spaces
LABEL maintainer="me <me@x>" version=$VERSION
WORKDIR $APP_HOME
WORKDIR sub
COPY a.txt .
COPY a.txt /abs/
COPY --chown=1:1 a.txt b.txt
COPY d ./d
COPY --from=first /first /first
ADD a.txt /added.txt
RUN echo $VERSION && \\
    echo   two    spaces \\
 # inner comment
    && echo done
RUN ["echo", "exec", "form"]
RUN ["/bin/sh", "-c", "echo shell via exec"]
EXPOSE 8000 9000/udp
VOLUME ["/data"]
VOLUME /data2 /data3
USER nobody
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s CMD ["true"]
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV AFTER=shell
RUN echo "in bash" | cat
ONBUILD RUN echo onbuild
ENTRYPOINT ["/bin/echo", "hi"]
CMD ["uvicorn", "app:app", "--host", "0.0.0.0"]
"""
FIRST = "d56b8b2d132a12cc62301a7c5e640e6fa17693a61d63709c766e33359ca55d4e"
DIR = "649c5e2d66cc69f4dedf115b0e9a088e65df0feaaa8b7780719ea57dabf2c9ca"
FILE = "00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda"
EVERYTHING_HISTORY = [
    "/bin/sh -c #(nop)  ARG VERSION=1.2",
    "/bin/sh -c #(nop)  ARG EMPTY",
    "/bin/sh -c #(nop)  ARG OTHER=x",
    "/bin/sh -c #(nop)  ENV APP_HOME=/app GREETING=hello world PATHX=/bin",
    "/bin/sh -c #(nop)  ENV LEGACY=value with  spaces",
    "/bin/sh -c #(nop)  LABEL maintainer=me <me@x> version=1.2",
    "/bin/sh -c #(nop) WORKDIR /app",
    "/bin/sh -c #(nop) WORKDIR /app/sub",
    f"/bin/sh -c #(nop) COPY file:{FILE} in . ",
    f"/bin/sh -c #(nop) COPY file:{FILE} in /abs/ ",
    f"/bin/sh -c #(nop) COPY --chown=1:1file:{FILE} in b.txt ",
    f"/bin/sh -c #(nop) COPY dir:{DIR} in ./d ",
    f"/bin/sh -c #(nop) COPY file:{FIRST} in /first ",
    f"/bin/sh -c #(nop) ADD file:{FILE} in /added.txt ",
    "|2 OTHER=x VERSION=1.2 /bin/sh -c echo $VERSION &&     echo   two    spaces     && echo done",
    "|2 OTHER=x VERSION=1.2 echo exec form",
    "|2 OTHER=x VERSION=1.2 /bin/sh -c echo shell via exec",
    "/bin/sh -c #(nop)  EXPOSE 8000 9000/udp",
    "/bin/sh -c #(nop)  VOLUME [/data]",
    "/bin/sh -c #(nop)  VOLUME [/data2 /data3]",
    "/bin/sh -c #(nop)  USER nobody",
    "/bin/sh -c #(nop)  STOPSIGNAL SIGTERM",
    '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD" "true"] "30s" "0s" "0s" \'\\x00\'}',
    "/bin/bash -o pipefail -c #(nop)  SHELL [/bin/bash -o pipefail -c]",
    "/bin/bash -o pipefail -c #(nop)  ENV AFTER=shell",
    '|2 OTHER=x VERSION=1.2 /bin/bash -o pipefail -c echo "in bash" | cat',
    "/bin/bash -o pipefail -c #(nop)  ONBUILD RUN echo onbuild",
    '/bin/bash -o pipefail -c #(nop)  ENTRYPOINT ["/bin/echo" "hi"]',
    '/bin/bash -o pipefail -c #(nop)  CMD ["uvicorn" "app:app" "--host" "0.0.0.0"]',
]

# docker build --build-arg B=9 (legacy): ENV shadows an ARG, continuation without blanks.
ARGS = """\
FROM imagecheck-test/base:bookworm
ARG A=1 B=2
ENV DEST=/opt/x PATH=/opt/bin:$PATH
COPY a.txt b.txt $DEST/
COPY *.txt /globbed/
RUN echo a\\
b &&\\
    echo c
ENV A=fromenv
RUN echo "quoted  spaces" '$A'
LABEL "quoted key"="with space" other='single'
EXPOSE 80/tcp ${B}
WORKDIR $DEST
WORKDIR ../y
USER 1000:1000
HEALTHCHECK --interval=5m --timeout=3s --retries=3 --start-period=1500ms \\
    CMD curl -f http://localhost/ || exit 1
HEALTHCHECK NONE
ENTRYPOINT python app.py
CMD echo "hi there"
MAINTAINER someone <x@y>
"""
MULTI = "58f2c93e0fa1a2b4138e6a2556b3491fd86aa320dc9ce8844a9bb41d62981b9f"
ARGS_HISTORY = [
    "/bin/sh -c #(nop)  ARG A=1 B=2",
    (
        "/bin/sh -c #(nop)  ENV DEST=/opt/x "
        "PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    ),
    f"/bin/sh -c #(nop) COPY multi:{MULTI} in /opt/x/ ",
    f"/bin/sh -c #(nop) COPY multi:{MULTI} in /globbed/ ",
    "|2 A=1 B=9 /bin/sh -c echo ab &&    echo c",
    "/bin/sh -c #(nop)  ENV A=fromenv",
    "|1 B=9 /bin/sh -c echo \"quoted  spaces\" '$A'",
    "/bin/sh -c #(nop)  LABEL quoted key=with space other=single",
    "/bin/sh -c #(nop)  EXPOSE 9 80/tcp",
    "/bin/sh -c #(nop) WORKDIR /opt/x",
    "/bin/sh -c #(nop) WORKDIR /opt/y",
    "/bin/sh -c #(nop)  USER 1000:1000",
    (
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] '
        '"5m0s" "3s" "1.5s" \'\\x03\'}'
    ),
    '/bin/sh -c #(nop)  HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}',
    '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh" "-c" "python app.py"]',
    '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo \\"hi there\\""]',
    "/bin/sh -c #(nop)  MAINTAINER someone <x@y>",
]

APT = """\
FROM imagecheck-test/base:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends \\
        libmagic1 \\
    && rm -rf /var/lib/apt/lists/*
ENV APP_HOME=/app
WORKDIR /app
COPY requirements.txt .
CMD ["python3", "-c", "import magic"]
"""
APT_HISTORY = [
    (
        "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends         libmagic1"
        "     && rm -rf /var/lib/apt/lists/*"
    ),
    "/bin/sh -c #(nop)  ENV APP_HOME=/app",
    "/bin/sh -c #(nop) WORKDIR /app",
    f"/bin/sh -c #(nop) COPY file:{FILE} in . ",
    '/bin/sh -c #(nop)  CMD ["python3" "-c" "import magic"]',
]

# BuildKit, as dockerfile2llb records it (commitToHistory, runCommandString).
APP = """\
FROM python:3.11-slim AS build
RUN pip wheel --wheel-dir /wheels uvicorn

FROM python:3.11-slim
ARG PIP_VERSION=24.0
ENV PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY requirements.txt .
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir pip==$PIP_VERSION && \\
    pip install --no-cache-dir -r requirements.txt
COPY . .
USER app
EXPOSE 8000
HEALTHCHECK CMD curl -f http://localhost:8000/
CMD ["uvicorn", "app:app", "--host", "0.0.0.0"]
"""
PYTHON_SLIM = [  # the base image's own entries, built by BuildKit too
    "ENV PYTHON_VERSION=3.11.9",
    "RUN /bin/sh -c set -eux; savedAptMark=...; # buildkit",
    'CMD ["python3"]',
]
APP_HISTORY = [
    "ARG PIP_VERSION=24.0",
    "ENV PYTHONDONTWRITEBYTECODE=1",
    "WORKDIR /app",
    "COPY requirements.txt . # buildkit",
    "COPY /wheels /wheels # buildkit",
    (
        "RUN |1 PIP_VERSION=24.0 /bin/sh -c pip install --no-cache-dir pip==$PIP_VERSION &&"
        "     pip install --no-cache-dir -r requirements.txt # buildkit"
    ),
    "COPY . . # buildkit",
    "USER app",
    "EXPOSE map[8000/tcp:{}]",
    'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost:8000/"] "0s" "0s" "0s" "0s" \'\\x00\'}',
    'CMD ["uvicorn" "app:app" "--host" "0.0.0.0"]',
]


def _buildkit(lines: list[str]) -> list[HistoryEntry]:
    return _history(PYTHON_SLIM + lines, BUILDKIT)[1:]


def test_legacy_fresh_image_matches_every_instruction() -> None:
    result = compare(EVERYTHING, _history(EVERYTHING_HISTORY))
    assert result.matched, result.first_difference
    assert result.first_difference is None
    assert result.base == "imagecheck-test/base:bookworm"
    assert result.base_entries == 1
    assert len(result.steps) == len(EVERYTHING_HISTORY)
    assert all(s.status == "same" for s in result.steps)
    copy = next(s for s in result.steps if s.text == "COPY a.txt /abs/")
    assert copy.entry is not None
    assert copy.entry.diff_id == "sha256:10"
    assert copy.content == f"file:{FILE}"


def test_multi_stage_compares_the_final_stage_or_the_target() -> None:
    result = compare(EVERYTHING, _history(EVERYTHING_HISTORY))
    assert not any("first >" in s.text for s in result.steps)  # the first stage left no history
    first = compare(EVERYTHING, _history(["/bin/sh -c echo first > /first"]), target="first")
    assert first.matched
    assert first.base == "imagecheck-test/base:bookworm"  # global ARG used in FROM
    other = compare(
        EVERYTHING,
        _history(["/bin/sh -c echo first > /first"]),
        {"BASE": "debian:12"},
        target="first",
    )
    assert other.base == "debian:12"


def test_stage_from_an_earlier_stage_resolves_to_it() -> None:
    text = 'FROM debian AS a\nSHELL ["/bin/bash", "-c"]\nFROM a\nRUN echo hi\n'
    stage = parse(text).stage()
    assert stage.parent is not None
    assert stage.parent.name == "a"
    (run,) = expected_history(stage)
    assert run.legacy == "/bin/bash -c echo hi"  # the shell the earlier stage set


def test_legacy_changed_run_quotes_both_sides() -> None:
    edited = EVERYTHING.replace("&& echo done", "&& echo finished")
    result = compare(edited, _history(EVERYTHING_HISTORY))
    assert not result.matched
    diff = result.first_difference
    assert diff is not None
    assert diff.reason == "instruction changed"
    assert diff.line == 22
    assert diff.instruction.startswith("RUN echo $VERSION && \\\n")
    assert diff.instruction.endswith("&& echo finished")
    assert diff.created_by == EVERYTHING_HISTORY[14]
    assert "echo finished" in diff.expected


def test_added_apt_package_is_the_first_difference() -> None:
    assert compare(APT, _history(APT_HISTORY)).matched
    edited = APT.replace("libmagic1 \\", "libmagic1 curl \\")
    result = compare(edited, _history(APT_HISTORY))
    diff = result.first_difference
    assert diff is not None
    assert (diff.line, diff.reason) == (2, "instruction changed")
    assert "libmagic1 curl" in diff.instruction
    assert diff.created_by == APT_HISTORY[0]
    assert result.base_entries == 1  # still aligned after the base image


def test_instruction_missing_from_the_image() -> None:
    edited = APT.replace("WORKDIR /app\n", "WORKDIR /app\nRUN pip install uv\n")
    result = compare(edited, _history(APT_HISTORY))
    diff = result.first_difference
    assert diff is not None
    assert diff.reason == "instruction missing from the image"
    assert (diff.line, diff.instruction, diff.created_by) == (7, "RUN pip install uv", "")
    assert [s.status for s in result.steps].count("same") == len(APT_HISTORY)


def test_image_has_an_extra_step() -> None:
    edited = APT.replace("ENV APP_HOME=/app\n", "")
    diff = compare(edited, _history(APT_HISTORY)).first_difference
    assert diff is not None
    assert diff.reason == "image has an extra step"
    assert diff.created_by == "/bin/sh -c #(nop)  ENV APP_HOME=/app"
    assert diff.line is None


def test_args_substitution_and_the_build_arg_prefix() -> None:
    assert compare(ARGS, _history(ARGS_HISTORY), {"B": "9"}).matched
    diff = compare(ARGS, _history(ARGS_HISTORY)).first_difference  # built with B=9, not 2
    assert diff is not None
    assert diff.reason == "build argument changed"
    assert diff.line == 6
    assert diff.created_by == "|2 A=1 B=9 /bin/sh -c echo ab &&    echo c"
    assert diff.expected == "|2 A=1 B=2 /bin/sh -c echo ab &&    echo c"


def test_continuations_join_as_the_builder_joins_them() -> None:
    run = next(i for i in instructions(ARGS) if i.line == 6)
    assert run.joined == "echo ab &&    echo c"  # no blank added, indentation kept
    assert run.source == "RUN echo a\\\nb &&\\\n    echo c"
    edited = ARGS.replace("RUN echo a\\\nb", "RUN echo a \\\nb")  # now "a b": a real change
    diff = compare(edited, _history(ARGS_HISTORY), {"B": "9"}).first_difference
    assert diff is not None
    assert diff.line == 6


def test_reindented_continuation_is_not_a_difference() -> None:
    edited = EVERYTHING.replace("    echo   two    spaces \\", "  echo two spaces \\")
    assert compare(edited, _history(EVERYTHING_HISTORY)).matched


def test_exec_and_shell_form_differ() -> None:
    edited = EVERYTHING.replace('RUN ["echo", "exec", "form"]', "RUN echo exec form")
    diff = compare(edited, _history(EVERYTHING_HISTORY)).first_difference
    assert diff is not None
    assert (diff.line, diff.reason) == (26, "instruction changed")
    assert diff.created_by == "|2 OTHER=x VERSION=1.2 echo exec form"
    assert diff.expected == "|2 OTHER=x VERSION=1.2 /bin/sh -c echo exec form"


def test_shell_changes_the_run_prefix() -> None:
    edited = EVERYTHING.replace('"-o", "pipefail", ', "")
    diff = compare(edited, _history(EVERYTHING_HISTORY)).first_difference
    assert diff is not None
    assert diff.line == 34
    assert diff.instruction == 'SHELL ["/bin/bash", "-c"]'


def test_legacy_label_from_build_option_is_ignored() -> None:
    text = "# escape=`\nFROM imagecheck-test/base:bookworm\nRUN echo one `\n    two\n"
    history = _history(["/bin/sh -c echo one     two", "/bin/sh -c #(nop)  LABEL foo=bar"])
    result = compare(text, history)
    assert result.matched
    assert [e.created_by for e in result.ignored] == ["/bin/sh -c #(nop)  LABEL foo=bar"]


def test_buildkit_fresh_image_matches() -> None:
    result = compare(APP, _buildkit(APP_HISTORY))
    assert result.matched, result.first_difference
    assert result.base_entries == len(PYTHON_SLIM)
    assert result.base == "python:3.11-slim"
    run = next(s for s in result.steps if s.keyword == "RUN")
    assert run.entry is not None
    assert run.entry.comment == BUILDKIT


def test_buildkit_changed_run_and_build_args() -> None:
    edited = APP.replace("-r requirements.txt", "-r requirements.lock")
    diff = compare(edited, _buildkit(APP_HISTORY)).first_difference
    assert diff is not None
    assert (diff.line, diff.reason) == (10, "instruction changed")
    assert diff.created_by == APP_HISTORY[5]
    assert diff.expected.startswith("RUN |1 PIP_VERSION=24.0 /bin/sh -c pip install")
    diff = compare(APP, _buildkit(APP_HISTORY), {"PIP_VERSION": "25.0"}).first_difference
    assert diff is not None
    assert (diff.line, diff.reason) == (10, "build argument changed")


def test_buildkit_copy_source_change_is_seen() -> None:
    edited = APP.replace("COPY requirements.txt .", "COPY requirements.lock .")
    diff = compare(edited, _buildkit(APP_HISTORY)).first_difference
    assert diff is not None
    assert diff.created_by == "COPY requirements.txt . # buildkit"


@pytest.mark.parametrize(
    ("line", "recorded"),
    [
        ('SHELL ["/bin/bash", "-c"]', "SHELL [/bin/bash -c]"),
        ('ENTRYPOINT ["tini", "--"]', 'ENTRYPOINT ["tini" "--"]'),
        ("LABEL a=b", "LABEL a=b"),
        ("ARG X=1", "ARG X=1"),
        ("EXPOSE 8000 9000/udp", "EXPOSE map[8000/tcp:{} 9000/udp:{}]"),
        ("RUN apt-get update", "RUN /bin/sh -c apt-get update # buildkit"),
    ],
)
def test_buildkit_metadata_lines(line: str, recorded: str) -> None:
    history = _buildkit([recorded])
    assert compare(f"FROM python:3.11-slim\n{line}\n", history).matched


# Built on docker 20.10.24 with both builders; each side is what `docker history
# --no-trunc` showed. The words are expanded as the builders expand them (quotes,
# escapes, single quotes keep `$`), WORKDIR keeps an absolute path as written.
WORDS = """\
FROM imagecheck-test/base:bookworm
WORKDIR /app/
WORKDIR sub/
WORKDIR "/quoted dir/"
WORKDIR //w
WORKDIR w2/./
ENV C  d   e
ENV F="a\\"b" G=x\\ \\ y H='$C'
ENV I=$A:${C} \\
    J=2
ENV\tK\ttab\tsep
ENV A=v A=w
ARG P="q=v"
ARG Q=${P}x
LABEL "k eq"="v=eq" k2="" k3=a\\ b
USER "quoted"
EXPOSE 8000 8000 9000-9001 "7000" 8080/TCP
CMD    echo   padded
COPY ["a.txt", "b c.txt", "/d/"]
"""
WORDS_RECORDED = [
    ("WORKDIR /app/", "WORKDIR /app/"),
    ("WORKDIR /app/sub", "WORKDIR /app/sub"),
    ("WORKDIR /quoted dir/", "WORKDIR /quoted dir/"),
    ("WORKDIR //w", "WORKDIR //w"),
    ("WORKDIR /w/w2", "WORKDIR /w/w2"),
    (" ENV C=d   e", "ENV C=d   e"),
    (' ENV F=a"b G=x  y H=$C', 'ENV F=a"b G=x  y H=$C'),
    (" ENV I=:d   e J=2", "ENV I=:d   e J=2"),
    (" ENV K=tab\tsep", "ENV K=tab\tsep"),
    (" ENV A=v A=w", "ENV A=v A=w"),
    (" ARG P=q=v", "ARG P=q=v"),
    (" ARG Q=q=vx", "ARG Q=q=vx"),
    (" LABEL k eq=v=eq k2= k3=a b", "LABEL k eq=v=eq k2= k3=a b"),
    (" USER quoted", "USER quoted"),
    (
        " EXPOSE 7000 8000 8000 8080/TCP 9000-9001",
        "EXPOSE map[7000/tcp:{} 8000/tcp:{} 8080/tcp:{} 9000/tcp:{} 9001/tcp:{}]",
    ),
    (' CMD ["/bin/sh" "-c" "echo   padded"]', 'CMD ["/bin/sh" "-c" "echo   padded"]'),
    (f"COPY multi:{MULTI} in /d/ ", "COPY a.txt b c.txt /d/ # buildkit"),
]


@pytest.mark.parametrize("builder", ["legacy", "buildkit"])
def test_words_are_expanded_as_the_builders_record_them(builder: str) -> None:
    if builder == "legacy":
        history = _history([f"/bin/sh -c #(nop) {legacy}" for legacy, _ in WORDS_RECORDED])
    else:
        history = _buildkit([kit for _, kit in WORDS_RECORDED])
    result = compare(WORDS, history)
    assert result.matched, result.first_difference
    assert [s.status for s in result.steps if s.line] == ["same"] * len(WORDS_RECORDED)


@pytest.mark.parametrize("builder", ["legacy", "buildkit"])
def test_workdir_with_a_trailing_slash_matches_and_a_real_change_says_what_differs(
    builder: str,
) -> None:
    """The user report: 'WORKDIR /app/' against the image it built was a change."""
    text = "FROM imagecheck-test/base:bookworm\nWORKDIR /app/\nCOPY a.txt .\n"
    if builder == "legacy":
        history = _history(
            ["/bin/sh -c #(nop) WORKDIR /app/", f"/bin/sh -c #(nop) COPY file:{FILE} in . "]
        )
    else:
        history = _buildkit(["WORKDIR /app/", "COPY a.txt . # buildkit"])
    assert compare(text, history).matched
    diff = compare(text.replace("/app/", "/srv/app/"), history).first_difference
    assert diff is not None
    assert diff.line == 2
    assert diff.expected.endswith("WORKDIR /srv/app/")
    assert diff.created_by.endswith("WORKDIR /app/")
    assert diff.detail == "'/srv/app/' where the image has '/app/'"


def test_expose_in_buildkit_records_only_its_own_ports() -> None:
    text = "FROM imagecheck-test/base:bookworm\nEXPOSE 80\nARG PORT=5000\nEXPOSE $PORT\n"
    history = _buildkit(["EXPOSE map[80/tcp:{}]", "ARG PORT=5000", "EXPOSE map[5000/tcp:{}]"])
    assert compare(text, history).matched
    other = compare(text.replace("EXPOSE 80\n", "EXPOSE 81\n"), history).first_difference
    assert other is not None
    assert other.line == 2


def test_a_relative_workdir_under_the_base_image_unknown_folder() -> None:
    """The base image's WORKDIR is not in the Dockerfile: ``..`` from it is anything."""
    text = "FROM imagecheck-test/base:bookworm\nWORKDIR ..\nWORKDIR x/y\nWORKDIR app/$B\n"
    for history in (
        _history([f"/bin/sh -c #(nop) WORKDIR {p}" for p in ("/", "/x/y", "/x/y/app")]),
        _buildkit(["WORKDIR /", "WORKDIR /x/y", "WORKDIR /x/y/app"]),
    ):
        assert compare(text, history).matched


def test_a_variable_the_base_image_may_define_can_be_empty() -> None:
    """``$A`` is not in the Dockerfile: the builder expanded it to nothing and stripped
    the blank before it (BuildKit recorded 'ENV A=one  ')."""
    text = "FROM imagecheck-test/base:bookworm\nENV A one  $A\nENV B one $C two\n"
    history = _buildkit(["ENV A=one  ", "ENV B=one  two"])
    assert compare(text, history).matched
