"""riskchart — 权力运行廉政风险防控图编译器."""

__version__ = "0.1.0"
