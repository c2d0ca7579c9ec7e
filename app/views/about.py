"""Help › About: what the app is, the citations of the paper and of the data, the versions of the app and
its main libraries (read when the dialog opens), and where the user guide is."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout

GUIDE_SECTION = "The desktop application"
PAPER = ("Ryskina, M., et al. (2025). Language models align with brain regions that represent concepts "
         "across modalities. Conference on Language Modeling (COLM 2025).")
DATA = ("Pereira, F., Lou, B., Pritchett, B., Ritter, S., Gershman, S. J., Kanwisher, N., Botvinick, M., "
        "& Fedorenko, E. (2018). Toward a universal decoder of linguistic meaning from brain activation. "
        "Nature Communications, 9, 963. Processed release: github.com/ryskina/concepts-brain-llms (MIT).")
ATLAS = ("fs_LR 32k meshes and the HCP-MMP1.0 parcellation: WU-Minn HCP; Glasser, M. F., et al. (2016), "
         "Nature, 536, 171-178.")
PACKAGES = {"concept-brain-studio": None, "numpy": "numpy", "pandas": "pandas", "nibabel": "nibabel",
            "nilearn": "nilearn", "torch": "torch", "transformers": "transformers", "PySide6": "PySide6",
            "pyvista": "pyvista", "dask": "dask"}  # distribution -> module (its __version__ as a fallback)


def versions() -> dict[str, str]:
    """Python and the installed versions of the main packages ("not installed" when absent)."""
    out = {"Python": platform.python_version()}
    for name, module in PACKAGES.items():
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = _module_version(module)
    return out


def _module_version(module: str | None) -> str:
    """A package's ``__version__`` (PySide6 wheels are split into distributions of other names)."""
    if module is None:
        return "not installed"
    try:
        return str(__import__(module).__version__)
    except (ImportError, AttributeError):
        return "not installed"


def user_guide() -> Path | None:
    """The README (the user guide) of this installation, when its source tree is there."""
    import app

    readme = Path(app.__file__).resolve().parents[1] / "README.md"
    return readme if readme.is_file() else None


def about_html() -> str:
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in versions().items())
    return (
        "<h3>Concept Brain Studio</h3>"
        "<p>Semantic consistency, brain encoding, quartile decoupling and RSA of language models and the "
        "brain, on the Pereira et al. (2018) design.</p>"
        f"<p><b>Please cite the paper</b><br>{PAPER}</p>"
        f"<p><b>and the data</b><br>{DATA}</p>"
        f"<p><b>Atlas</b><br>{ATLAS}</p>"
        f"<p><b>Versions</b></p><table>{rows}</table>"
        + _guide_line()
    )


def _guide_line() -> str:
    guide = user_guide()
    if guide is None:
        return f"<p>User guide: the README, section “{GUIDE_SECTION}”.</p>"
    return (f'<p>User guide: <a href="{guide.as_uri()}">README.md</a>, section “{GUIDE_SECTION}” '
            f"({guide}).</p>")


class AboutDialog(QDialog):
    """The About box (modal; Close)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Concept Brain Studio")
        self.text = QLabel(about_html())
        self.text.setWordWrap(True)
        self.text.setOpenExternalLinks(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(640, 560)
