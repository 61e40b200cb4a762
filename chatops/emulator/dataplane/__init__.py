"""The emulator's data plane: what actually runs behind the control plane's state.

One module per AWS role it stands for; each says which AWS behaviour it reproduces
and which it leaves out.
"""
