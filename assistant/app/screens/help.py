"""The help screen (? or F1): what each screen does and its keys."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# assistant: fine-tune or retrieve?

Build a domain assistant two ways from the same data, score both with one harness,
read the recommendation, then chat with the result. Mouse and keyboard both work:
**Tab** / **Shift+Tab** move between fields, **Space** / **Enter** press.

## Home
Choose a shipped domain or a corpus folder (type its path, **Enter** to check it).
Set the models (empty: the embedded defaults) and the build. **b** builds,
**Enter** on a past run opens its results, **c** chats with it, **r** refreshes the list.

## Build
Each approach shows its progress, ETA, loss curve (fine-tuning) and log.
**x** cancels (the current step finishes first). When the builds are done the run is
evaluated and the Results open (**Enter**). **Esc** goes home once nothing runs.

## Results
Tabs: recommendation with its reasons, metrics with 95% confidence intervals per
approach and question kind, bias, overfitting. **o** opens the HTML report,
**c** chats with the recommended approach.

## Chat
Pick an approach, or *compare all* to see every approach answer the same question side
by side. Answers stream in; the sources they used (document, chunk, score) are on the
right: highlight one to read it. **Ctrl+R** results, **Esc** home.

## Everywhere
**?** or **F1** this help · **Ctrl+Q** quit
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
