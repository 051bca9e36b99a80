"""The speed forecast in words, for badges, tooltips, the Settings pane and download warnings."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from autoglm_desktop.core.planning.speed_forecast import SpeedForecast


def speed_text(tokens_per_s: float) -> str:
    """The forecast writing speed, short, for badges and lists: "~4 tok/s"."""
    figure = f"{tokens_per_s:.1f}" if tokens_per_s < 10 else f"{tokens_per_s:.0f}"
    return QCoreApplication.translate("ModelWidgets", "~%1 tok/s").replace("%1", figure)


def speed_explanation(speed: SpeedForecast) -> str:
    return (
        QCoreApplication.translate(
            "ModelWidgets",
            "On this PC it should write about %1 tokens per second and read prompts at "
            "about %2 tokens per second (a forecast from this PC's measured speed).",
        )
        .replace("%1", f"{speed.decode_tokens_per_s:.1f}")
        .replace("%2", f"{speed.prompt_tokens_per_s:.0f}")
    )


def slow_model_warning(speed: SpeedForecast) -> str:
    """The question before downloading a model this PC runs painfully slowly."""
    # A 300-word answer is about 400 tokens.
    minutes = max(1, round(400 / max(speed.decode_tokens_per_s, 0.01) / 60))
    return (
        QCoreApplication.translate(
            "ModelWidgets",
            "This model should write only about %1 tokens per second on this PC: a 300-word "
            "answer would take about %2 min. A smaller file or model will feel much faster. "
            "Download it anyway?",
        )
        .replace("%1", f"{speed.decode_tokens_per_s:.1f}")
        .replace("%2", str(minutes))
    )
