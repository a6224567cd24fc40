"""Pure-Python wire-format codecs shared by the vendor emulators and the hub's connectors.

Nothing here imports Django or Starlette, so a connector and an emulator can agree on a
format by importing the very same function.
"""
