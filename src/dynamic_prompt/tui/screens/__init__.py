"""The dashboard screen and its dialogs."""
