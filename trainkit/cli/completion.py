"""Shell completion for ``trainkit`` in bash and zsh: subcommands, and Hydra's completion of overrides.

``eval "$(trainkit completion bash)"`` (or ``zsh``; Hydra's own
``trainkit train -sc install=bash`` prints the same) installs a completion
function for the ``trainkit`` command. It completes subcommand names itself and
asks ``trainkit train -sc query=bash`` for the words of ``train``/``groups``/
``resume``: Hydra's completion of config groups, options and keys, given the
command line without the subcommand word.
"""
from __future__ import annotations

import os

__all__ = ["cmd_completion", "completion_script", "query_line"]

_SUBCOMMANDS = "train resume groups compare export plugins completion --help --version"

_BASH = """_trainkit_complete()
{
    local cur="${COMP_WORDS[COMP_CWORD]}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "%(subcommands)s" -- "$cur"))
        return
    fi
    case "${COMP_WORDS[1]}" in
        train|groups|resume)
            local choices
            choices=$(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" trainkit train -sc query=bash 2>/dev/null)
            COMPREPLY=($(compgen -o nospace -W "$choices" -- "$cur"))
            ;;
        completion)
            COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))
            ;;
        *)
            COMPREPLY=($(compgen -f -- "$cur"))
            ;;
    esac
}
COMP_WORDBREAKS=${COMP_WORDBREAKS//=}
complete -o nospace -o default -F _trainkit_complete trainkit
"""


def completion_script(shell: str) -> str:
    """The completion script for ``bash`` or ``zsh`` (zsh runs the bash function through bashcompinit)."""
    script = _BASH % {"subcommands": _SUBCOMMANDS}
    if shell == "zsh":
        return "autoload -Uz bashcompinit && bashcompinit\n" + script
    if shell != "bash":
        raise ValueError(f"no completion for shell {shell!r}; use bash or zsh")
    return script


def query_line() -> None:
    """Rewrite ``COMP_LINE`` for Hydra's completion query: ``trainkit train opt`` -> ``trainkit opt``
    (Hydra takes the first word as the program and the rest as overrides)."""
    line = os.environ.get("COMP_LINE", "")
    words = line.split(" ")
    if len(words) >= 2 and words[1] in ("train", "groups", "resume"):
        drop = 3 if words[1] == "resume" and len(words) > 3 else 2
        os.environ["COMP_LINE"] = " ".join([words[0], *words[drop:]])
        point = int(os.environ.get("COMP_POINT", len(line)) or len(line))
        os.environ["COMP_POINT"] = str(max(0, point - (len(line) - len(os.environ["COMP_LINE"]))))


def cmd_completion(argv: list[str]) -> int:
    """``trainkit completion bash|zsh``: print the completion script (``eval "$(trainkit completion bash)"``)."""
    from .common import error

    if len(argv) != 1 or argv[0] not in ("bash", "zsh"):
        return error("usage: trainkit completion bash|zsh   (then: eval \"$(trainkit completion bash)\")")
    print(completion_script(argv[0]), end="")
    return 0
