"""What every command shares: flags (the settings flags made from the approaches' Configs), the
TOML config file merged under the flags, machine-readable output, and progress on the terminal."""
from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
import types
import typing
from pathlib import Path

from ..errors import UserError

# Real defaults live here, not in argparse, so that "given on the command line" (not None)
# can be told apart from "left to the config file or the default".
_DEFAULTS: dict[str, object] = {}
_ACTIONS: dict[str, argparse.Action] = {}  # dest -> action, to check config values like flags


def opt(parser, *flags, default=None, **kw):
    action = parser.add_argument(*flags, default=None, **kw)
    if default is not None:
        _DEFAULTS[action.dest] = default
    _ACTIONS[action.dest] = action
    return action


def _config_value(action: argparse.Action | None, value, key: str, path: Path):
    """Check a config value the way argparse checks the flag (type, choices, on/off flags)."""
    if action is None:
        return value
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)):
        if not isinstance(value, bool):
            raise UserError(f"'{key}' must be true or false", path=path)
        return value
    if isinstance(value, (dict, list)) or value is None:
        raise UserError(f"'{key}' must be a single value", path=path)
    if isinstance(value, bool):
        raise UserError(f"'{key}' must be a value, not true/false", path=path)
    try:
        value = action.type(str(value)) if action.type else str(value)
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        raise UserError(f"'{key}': invalid value {value!r}", path=path) from None
    if action.choices and value not in action.choices:
        raise UserError(f"'{key}': {value!r} is not one of {', '.join(map(str, action.choices))}", path=path)
    return value


def device_options(p) -> None:
    from ..llm import DEFAULT_PRECISION, PRECISIONS

    opt(p, "--device", default="auto", choices=["auto", "cpu", "cuda"])
    opt(p, "--precision", default=DEFAULT_PRECISION, choices=PRECISIONS,
         help=f"auto: bf16 where the hardware runs it natively, else fp32; fp32 reproduces a run on any CPU "
              f"(default {DEFAULT_PRECISION})")


def common(p, *, models: bool = True, out: bool = False, corpus: bool = False):
    p.add_argument("--config", metavar="FILE", help="TOML file whose keys mirror the flags (flags win)")
    opt(p, "--json", action="store_true", help="print machine-readable results")
    if corpus:
        g = p.add_mutually_exclusive_group()
        opt(g, "--domain", help="a shipped domain: legal, medical or support")
        opt(g, "--corpus", metavar="PATH", help="a corpus folder (see docs/corpus-format.md)")
    if models:
        opt(p, "--base-model", default=None, help="embedded default, a local folder or a Hugging Face id")
        opt(p, "--embedding-model", default=None, help="embedded default, a local folder or a sentence-transformers id")
        device_options(p)
        opt(p, "--trust-remote-code", action="store_true", help="allow model code from the hub (off by default)")
    if out:
        opt(p, "--out", default="runs", metavar="DIR", help="the folder that holds the runs (default ./runs)")


def load_config(args) -> None:
    """Fill arguments not given on the command line from --config, then from the defaults."""
    path = getattr(args, "config", None)
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError("no such config file", path=p) from None
        except IsADirectoryError:
            raise UserError("a folder, not a config file (give a TOML file)", path=p) from None
        except OSError as e:
            raise UserError(f"cannot read it ({e.strerror or type(e).__name__})", path=p) from None
        except UnicodeDecodeError as e:
            raise UserError(f"not UTF-8 text (byte {e.start})", path=p) from None
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+)", str(e))
            raise UserError(f"not valid TOML: {str(e).split(' (at ')[0]}", path=p, line=int(m.group(1)) if m else None) from None
        except RecursionError:  # tomllib parses nested arrays and tables recursively
            raise UserError("not valid TOML: nested too deeply", path=p) from None
        for key, value in data.items():
            dest = key.replace("-", "_")
            if not hasattr(args, dest) or dest in ("config", "handler", "command"):
                raise UserError(f"unknown key '{key}' for this command", path=p)
            if getattr(args, dest) is None:
                setattr(args, dest, _config_value(_ACTIONS.get(dest), value, key, p))
    defaulted = [dest for dest in _DEFAULTS if hasattr(args, dest) and getattr(args, dest) is None]
    for dest in defaulted:
        setattr(args, dest, _DEFAULTS[dest])
    args._defaulted = defaulted


def named(args, dest: str) -> bool:
    """Whether the user chose this value (a flag or --config), rather than its default."""
    return dest not in getattr(args, "_defaulted", ())


def values_of(args) -> dict:
    """The command's values as a run records them (no handler, no bookkeeping)."""
    return {k: v for k, v in vars(args).items() if k not in ("handler", "_defaulted")}


def print_result(args, human: str, data) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else human)




# -- settings flags, made from the approaches' Configs ----------------------------------------
def _comma_list(text: str):
    """'all-linear' stays a string; 'q_proj,v_proj' is a list."""
    return text.split(",") if "," in text else text


def _flag_kind(annotation) -> dict:
    """argparse keywords for a Config field's type: choices for a Literal, --x/--no-x for a bool,
    int/float/str otherwise."""
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return {"choices": list(typing.get_args(annotation))}
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if any(typing.get_origin(a) is list for a in args):
            return {"type": _comma_list, "metavar": "NAMES"}
        return _flag_kind(args[0]) if len(args) == 1 else {}
    if annotation in (int, float):
        return {"type": annotation, "metavar": "N" if annotation is int else "X"}
    return {"metavar": "TEXT"}


def default_text(key: str, approach_names: list[str]) -> str:
    """'(default 512; --quick: 256)'; per approach where they differ: '(default ft 512, hybrid 1536)'."""
    from ..approaches import get

    def show(values: dict) -> str:
        if len({repr(v) for v in values.values()}) == 1:
            v = next(iter(values.values()))
            return "none" if v is None else str(v)
        return ", ".join(f"{a} {'none' if v is None else v}" for a, v in values.items())

    full = {a: get(a).Config.default_of(key) for a in approach_names}
    quick = {a: get(a).Config.default_of(key, quick=True) for a in approach_names}
    return f"(default {show(full)}" + ("" if quick == full else f"; --quick: {show(quick)}") + ")"


def config_options(parser, approach_names: list[str]) -> None:
    """One flag per setting of these approaches, named after the field (--chunk-tokens), with its
    description and its default(s) from the Config: the default is written once, in the Config."""
    from ..approaches import config_fields

    group = parser.add_argument_group("settings (each approach's Config; TOML keys of the same names)")
    for key, fields in config_fields(approach_names).items():
        info = next(iter(fields.values()))
        text = f"{info.description or key.replace('_', ' ')} {default_text(key, list(fields))}"
        opt(group, "--" + key.replace("_", "-"), help=text.replace("%", "%%"), **_flag_kind(info.annotation))


# -- progress on the terminal ----------------------------------------------------------------
class ConsoleEvents:
    """The CLI's listener for Events: a tqdm bar per building stage (with the losses when it
    trains), a line per evaluation step, on stderr. Quiet with --json and in the non-main
    processes of a multi-process launch."""

    def __init__(self, quiet: bool = False):
        self.quiet, self.bars, self.losses = quiet, {}, {}

    def __call__(self, e) -> None:
        if self.quiet:
            return
        if e.stage == "eval" or e.phase in ("start", "probe") or not e.total:
            if e.message:
                print(f"... {e.message}", file=sys.stderr, flush=True)
            return
        from tqdm.auto import tqdm

        bar = self.bars.get(e.stage)
        if bar is None:
            unit = "step" if "loss" in e.figures else "item"
            bar = self.bars[e.stage] = tqdm(total=e.total, desc=e.stage, unit=unit, dynamic_ncols=True, initial=e.step,
                                            file=sys.stderr)
        bar.total = e.total
        losses = self.losses.setdefault(e.stage, {})
        losses.update({k: f"{v:.3f}" for k, v in e.figures.items() if k in ("loss", "val_loss") and v is not None})
        if losses:
            bar.set_postfix(losses, refresh=False)
        bar.update(max(0, e.step - bar.n))
        if e.phase == "done" or (e.step >= e.total and "loss" not in e.figures):
            bar.close()
            del self.bars[e.stage]
