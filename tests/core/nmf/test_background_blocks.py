"""The background floor is computed a few rows at a time (bounded memory): the same values as all at once."""
import pytest
import torch

from unmf_core.nmf.kernels import _time_floor


def _whole(M, percentile=25.0, smooth=15):
    if smooth > 1 and M.shape[-1] > smooth:
        M = torch.nn.functional.avg_pool1d(M.reshape(-1, 1, M.shape[-1]), smooth, stride=1).reshape(
            *M.shape[:-1], -1)
    k = max(1, min(M.shape[-1], int(round(percentile / 100.0 * M.shape[-1]))))
    return torch.kthvalue(M, k, dim=-1, keepdim=True).values


@pytest.mark.parametrize("shape", [(288, 5), (288, 15), (288, 16), (288, 3001), (2, 288, 777)])
@pytest.mark.parametrize("block", [1 << 22, 5000, 1])
def test_rows_in_blocks_equal_the_whole(shape, block):
    M = torch.rand(shape, generator=torch.Generator().manual_seed(sum(shape)))
    assert torch.equal(_time_floor(M, 25.0, 15, block), _whole(M))
