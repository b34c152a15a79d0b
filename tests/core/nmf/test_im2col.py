"""A_H's convolutions as matrix products (short live windows) agree with the convolutions."""
from __future__ import annotations

import pytest
import torch

from unmf_core.nmf import im2col
from unmf_core.nmf.unrolled import AccelCNN


@pytest.mark.parametrize("length", [1, 3, 14, 54])
def test_matrix_products_equal_the_convolutions(length):
    torch.manual_seed(0)
    net = AccelCNN(hidden=16)
    torch.nn.init.normal_(net.conv3.weight)  # the 'centered' head starts at zero: make every layer count
    x = torch.rand(88, length) * 3
    assert 88 * length <= im2col.MAX_VALUES
    with torch.no_grad():
        fast = net._trunk_inference(x.unsqueeze(1), None)
        ref = net.conv3(net.act(net.conv2(net.act(net.conv1(x.unsqueeze(1))))))
    assert fast.shape == ref.shape == (88, 1, length)
    assert torch.allclose(fast, ref, rtol=1e-5, atol=1e-5)
    assert float(ref.abs().max()) > 0.1
