"""Publishing the set around the charts: index page, booklet, register and office formats."""
