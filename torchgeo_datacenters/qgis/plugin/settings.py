"""The provider's settings in Processing's options: which ``tgdc`` to run."""

from processing.core.ProcessingConfig import ProcessingConfig

from .runner import find_tgdc

#: Processing setting: path of a ``tgdc`` executable.
EXECUTABLE_SETTING = "TGDC_EXECUTABLE"

#: Processing setting: a torchgeo-datacenters project folder, run with ``uv run``.
PROJECT_SETTING = "TGDC_PROJECT_DIR"


def configured_tgdc() -> list:
    """The ``tgdc`` command, from the provider's settings or found (see ``find_tgdc``).

    Returns:
        The command's words.

    Raises:
        TgdcError: if no ``tgdc`` is found.
    """
    return find_tgdc(
        ProcessingConfig.getSetting(EXECUTABLE_SETTING) or "",
        ProcessingConfig.getSetting(PROJECT_SETTING) or "",
    )
