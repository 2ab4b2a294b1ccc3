"""Chapter 12, *Run on real data*: the download command at this resolution; what the SIC-only network lacks.

Commands are glued as inline code (Markdown, pasted with ``{glue:md}``), never as plain text: Sphinx's
smart quotes turn ``--`` in plain text into an en dash, and a reader who copies ``–source`` gets a
command that fails.
"""

from __future__ import annotations

from typing import Any

from icegrad.errors import IcegradError


def command(text: str) -> Any:
    """``text`` as inline code for ``{glue:md}``: copied from the page, it is the command as typed."""
    from IPython.display import Markdown

    if "`" in text:
        raise IcegradError(f"a command with a backtick cannot be shown as inline code: {text!r}")
    return Markdown(f"`{text}`")


def page_glue(resolution_km: int) -> dict[str, Any]:
    """The chapter's glue values: the NSIDC command at ``resolution_km`` and the SIC-only inputs."""
    from icegrad.inputs import real_record
    from icegrad.variables import CHANNEL_NAMES, SIC_ONLY_CHANNEL_NAMES

    lacking = real_record.missing_channels(SIC_ONLY_CHANNEL_NAMES)
    return {"nsidc_command": command(real_record.NSIDC_COMMAND.format(resolution_km=resolution_km)),
            "n_all": len(CHANNEL_NAMES), "n_sic_only": len(SIC_ONLY_CHANNEL_NAMES), "n_lacking": len(lacking),
            "sic_only_channels": real_record.describe_channels(SIC_ONLY_CHANNEL_NAMES),
            "lacking_channels": real_record.describe_channels(lacking), "resolution": resolution_km}
