"""The command-line layer: flags declared once (`flags`), and how a command runs (`process`)."""
