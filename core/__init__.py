"""Movie-recommendation core: catalogue loading, scorers, blending, search and artifacts.

No Streamlit here: the app in ``streamlit_app.py`` and ``pages/`` is a thin layer over this
package, and so is the command line (``python -m core``).
"""

__version__ = "0.1.0"
