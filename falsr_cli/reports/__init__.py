"""Reports built from trained models: model cards, the README's results table and plot."""
