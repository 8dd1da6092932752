"""Collect a model's parameters with the facts the grouping rules need (mechanism, no policy)."""
from typing import Dict, List, Mapping, NamedTuple, Tuple

from torch import nn


class ParamInfo(NamedTuple):
    """One trainable parameter: its full name, the module that owns it, and its attribute name."""

    name: str
    param: nn.Parameter
    module_name: str
    module: nn.Module
    attr: str


class ModelParams(NamedTuple):
    """A model's parameters in ``named_parameters()`` order."""

    trainable: Tuple[ParamInfo, ...]
    frozen_names: Tuple[str, ...]
    #: ``(alias, first_name)`` for every parameter reachable under more than one name.
    aliases: Tuple[Tuple[str, str], ...]
    modules: Mapping[str, nn.Module]
    trainable_names: Tuple[str, ...]

    @property
    def all_names(self) -> Tuple[str, ...]:
        """Trainable names first, then frozen ones."""
        return self.trainable_names + self.frozen_names


def collect_params(model: nn.Module) -> ModelParams:
    """Every parameter of ``model`` under its first name, in ``named_parameters()`` order.

    Shared parameters (one tensor under several names) are kept once, under the name
    ``named_parameters()`` gives them, and their other names are reported in ``aliases``.
    """
    trainable: List[ParamInfo] = []
    frozen: List[str] = []
    aliases: List[Tuple[str, str]] = []
    first_name: Dict[int, str] = {}
    modules: Dict[str, nn.Module] = {}
    for module_name, module in model.named_modules(remove_duplicate=False):
        modules.setdefault(module_name, module)
        for attr, param in module._parameters.items():
            if param is None:
                continue
            name = f'{module_name}.{attr}' if module_name else attr
            if id(param) in first_name:
                aliases.append((name, first_name[id(param)]))
                continue
            first_name[id(param)] = name
            if param.requires_grad:
                trainable.append(ParamInfo(name, param, module_name, module, attr))
            else:
                frozen.append(name)
    return ModelParams(tuple(trainable), tuple(frozen), tuple(aliases), modules,
                       tuple(info.name for info in trainable))
