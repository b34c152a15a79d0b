"""Names vulture (``python3 -m vulture unmf_core unmf_gui main.py tests scripts benchmarks .vulture_allow.py``)
reports as unused that are used by a framework, by name.
"""
# torch calls nn.Module.forward through __call__.
_.forward  # noqa
# Qt calls event handlers by name; QMainWindow keeps no Python reference to actions and toolbars it owns, so the
# window holds them.
_.dragEnterEvent  # noqa
_.eventFilter  # noqa
_.mergeWith  # noqa
_.paint  # noqa
_.dropEvent  # noqa
_.toolbar  # noqa
_.run_action  # noqa
_.cancel_action  # noqa
# Python calls a module's __getattr__ and __dir__ (PEP 562: unmf_core's names are imported on first use).
__getattr__  # noqa
__dir__  # noqa
# argparse calls ArgumentParser.error on a bad argument.
_.error  # noqa
# pytest: fixtures are found by argument name, marks by the module-level name pytestmark.
one_thread  # noqa
no_bundle  # noqa
pytestmark  # noqa
_key  # noqa
MARKER_ENV  # noqa
finished_callback  # noqa
# tests/gui/test_fuzz_ui.py picks its random actions by name (getattr).
_.open_good  # noqa
_.open_bad  # noqa
_.tab  # noqa
_.export  # noqa
# benchmarks/report.py: the list of benchmark targets is read by name.
TARGETS  # noqa
# unmf_core/nmf/unrolled.py: public check before UnrolledMU.set_precision(torch.bfloat16) (bf16 is not the default yet).
bf16_supported  # noqa
