"""User-facing errors.

Every error a user can fix (a missing file, a wrong band count, a bad option) is raised
as :class:`TGDCError` with a message that names the file, the field and the fix. The
``tgdc`` command prints such an error as one line and exits with status 2; any other
exception is a bug and keeps its traceback.
"""


class TGDCError(Exception):
    """An error caused by the user's input, with a message that says how to fix it."""
