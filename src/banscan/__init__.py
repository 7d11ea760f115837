"""banscan: find banned software, say what each rule requires by when, and prove it is gone."""

__version__ = "0.1.0"
