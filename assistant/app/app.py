"""The terminal app: Home -> Build -> Results -> Chat, with a help screen on ? / F1.

Layout after Textual's own examples and the elia chat client: one App that owns navigation and
session state, one module per screen in screens/, reusable pieces in widgets/, one stylesheet.
"""
from __future__ import annotations

import os

from textual.app import App
from textual.binding import Binding

from ..llm import DEFAULT_PRECISION
from .backend import BuildSettings
from .screens.build import BuildScreen
from .screens.chat import ChatScreen
from .screens.help import HelpScreen
from .screens.home import HomeScreen
from .screens.results import ResultsScreen


class AssistantApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "assistant"
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, out: str = "runs", device: str = "auto", precision: str = DEFAULT_PRECISION, **kw):
        super().__init__(**kw)
        self.out = out
        self.device = device
        self.precision = precision
        self.chat_history: dict[str, list] = {}  # run id -> [(question, {approach: (text, contexts)})]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded unless a hub model is named
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())

    # -- navigation (screens call these) -----------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_go_home(self) -> None:
        while len(self.screen_stack) > 2:  # [default, Home, ...]
            self.pop_screen()

    def start_build(self, settings: BuildSettings) -> None:
        self.push_screen(BuildScreen(settings))

    def open_results(self, run, replace: bool = False) -> None:
        if replace:
            self.switch_screen(ResultsScreen(run))
        else:
            self.push_screen(ResultsScreen(run))

    def open_chat(self, run, approach: str | None = None) -> None:
        self.push_screen(ChatScreen(run, approach))
