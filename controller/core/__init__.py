"""The pure core: git's files become a model, the model and the clock become states, channels and
messages. Nothing here touches the disk, the clock, a subprocess or the network; the adapters in
sources/, publish/ and notify/ do, driven by apply/.
"""
