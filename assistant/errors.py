"""The one exception type for a user's mistake: the CLI prints it as one line and exits 2."""


class UserError(Exception):
    """Bad input from the user (a file, a flag, a model name). Never a bug of ours.

    The message names what is wrong and where: `path:line: field: what is wrong`.
    """

    def __init__(self, message: str, *, path=None, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field, self.reason = path, line, field, message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        if field:
            where += f"{field}: "
        super().__init__(where + message)
