"""Code that makes every import of ``asl_hf`` fail in a subprocess, to prove a saved model or a Space folder works
where the package is not installed (it is installed editable in the test venv, so a meta-path finder goes first)."""

BLOCK_ASL_HF = '''
import importlib.abc, sys
class BlockAslHf(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "asl_hf" or name.startswith("asl_hf."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
sys.meta_path.insert(0, BlockAslHf())
'''
