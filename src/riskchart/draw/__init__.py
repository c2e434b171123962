"""Drawing charts: DOT layout, line wrapping, fonts, Graphviz rendering and the glyph check."""
