"""One module per chapter, each exposing ``Config`` (fast/full) and ``run(config) -> Result``."""
from importlib import import_module
from types import ModuleType

#: chapter name -> module name
CHAPTERS = {
    "ch0_measuring": "ch0_measuring",
    "ch1_resource_model": "ch1_resource_model",
    "ch2_explaining": "ch2_explaining",
    "ch3_lottery_tickets": "ch3_lottery_tickets",
    "ch4_bnsl": "ch4_bnsl",
    "ch5_data_distribution": "ch5_data_distribution",
}


def get(chapter: str) -> ModuleType:
    """The experiment module of a chapter (``"ch0_measuring"`` ...)."""
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter {chapter!r} is unknown; choose one of {sorted(CHAPTERS)}")
    return import_module(f"{__name__}.{CHAPTERS[chapter]}")
