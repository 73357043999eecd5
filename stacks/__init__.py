"""The one stack class the app instantiates once per environment."""
