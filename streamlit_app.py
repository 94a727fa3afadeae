"""Entry point of the movie workbench dashboard: page setup, navigation and the data caption.

Run with ``streamlit run streamlit_app.py`` (``MOVIE_DATA`` selects a MovieLens folder; the
built-in snapshot otherwise). Pages live in ``pages/``; shared helpers in the ``ui`` package.
"""

from __future__ import annotations

import streamlit as st

from ui import app

st.set_page_config(
    page_title="Movie workbench",
    page_icon="🎬",
    layout="wide",
    initial_sidebar_state="expanded",
    menu_items={"About": "Hybrid movie recommender workbench: chat, picks, analytics."},
)

navigation = st.navigation(
    {
        "Discover": [
            st.Page("pages/ask.py", title="Ask", icon=":material/forum:", default=True),
            st.Page("pages/for_you.py", title="For you", icon=":material/recommend:"),
            st.Page("pages/similar.py", title="Similar movies", icon=":material/movie_filter:"),
        ],
        "Insight": [
            st.Page("pages/analytics.py", title="Analytics", icon=":material/monitoring:"),
            st.Page("pages/evaluation.py", title="Evaluation", icon=":material/fact_check:"),
            st.Page("pages/data.py", title="Data", icon=":material/database:"),
        ],
    }
)

# Load (or on first start, build) the engine before any page draws, so the progress bar is
# the first thing a visitor sees and every page can assume a ready engine.
engine = app.engine_or_stop()
navigation.run()
st.sidebar.caption(app.data_summary_line(engine))
