"""Heads: candidate-only span matching, losses that learn, gradients to the encoder states."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from clinprompt.model.heads import (
    PairHead,
    SpanGold,
    SpanHead,
    TagHead,
    candidate_pairs,
    pair_labels,
)
from clinprompt.predict.decode import decode_spans


def signal_head(hidden: int, max_span_width: int = 32) -> SpanHead:
    """A span head whose start logit is feature 0 and end logit feature 1 of a token."""
    head = SpanHead(hidden, match_hidden=32, dropout=0.0, max_span_width=max_span_width)
    with torch.no_grad():
        for layer, feature in ((head.start, 0), (head.end, 1)):
            layer.weight.zero_()
            layer.weight[0, feature] = 1.0
            layer.bias.zero_()
    return head


def signal_states(batch: int, length: int, hidden: int, starts, ends) -> torch.Tensor:
    """Hidden states with start/end signals +1 at the (example, token) positions given, else -1."""
    states = torch.randn(batch, length, hidden)
    states[..., :2] = -1.0
    for b, i in starts:
        states[b, i, 0] = 1.0
    for b, j in ends:
        states[b, j, 1] = 1.0
    return states


class MaxTensorSize(TorchDispatchMode):
    """Records the largest number of elements of any tensor an operation produces."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for item in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(item, torch.Tensor):
                self.largest = max(self.largest, item.numel())
        return out


def test_candidate_pairs_hand_case():
    starts = torch.tensor([[False, True, False, True, False, False]])
    ends = torch.tensor([[False, False, True, True, False, True]])
    pairs = candidate_pairs(starts, ends, max_span_width=3)
    assert pairs.tolist() == [[0, 1, 2], [0, 1, 3], [0, 3, 3], [0, 3, 5]]


def test_candidate_pairs_add_gold_beyond_the_width_once():
    starts = torch.tensor([[True, False, False, False, False, True]])
    ends = torch.tensor([[True, False, False, False, False, True]])
    gold = torch.tensor([[0, 0, 0], [0, 0, 5]])  # (0, 0) is in the grid, (0, 5) beyond width 3
    pairs = candidate_pairs(starts, ends, max_span_width=3, extra=gold)
    assert pairs.tolist() == [[0, 0, 0], [0, 5, 5], [0, 0, 5]]


def test_training_candidates_are_gold_union_predicted_starts_times_ends():
    head = signal_head(8, max_span_width=4)
    states = signal_states(2, 10, 8, starts=[(0, 1), (1, 6)], ends=[(0, 2), (1, 9)])
    gold = SpanGold.from_answers([[4], [0]], [[4], [9]], seq_len=10)
    context = torch.ones(2, 10, dtype=torch.bool)
    outputs = head(states, context, gold)
    # Example 0: starts {1, 4} x ends {2, 4}; example 1: starts {0, 6} x ends {9} + gold (0, 9).
    expected = [[0, 1, 2], [0, 1, 4], [0, 4, 4], [1, 6, 9], [1, 0, 9]]
    assert outputs.pairs.tolist() == expected
    assert outputs.match_logits.shape == (5,)
    labels = pair_labels(outputs.pairs, gold.pairs, seq_len=10)
    assert labels.tolist() == [0.0, 0.0, 1.0, 0.0, 1.0]


def test_inference_candidates_are_predicted_starts_times_ends_in_context():
    head = signal_head(8, max_span_width=4)
    states = signal_states(1, 10, 8, starts=[(0, 0), (0, 3), (0, 5)], ends=[(0, 4), (0, 9)])
    context = torch.ones(1, 10, dtype=torch.bool)
    context[0, 0] = False  # a query token predicted as a start is no candidate
    outputs = head(states, context)
    # (3, 9) and (5, 9) are wider than 4 tokens; (5, 4) ends before it starts.
    assert outputs.pairs.tolist() == [[0, 3, 4]]
    assert len(outputs.match_logits) == 1


def test_realistic_batch_evaluates_few_pairs_and_nothing_of_grid_size():
    torch.manual_seed(0)
    batch, length, hidden, width = 8, 512, 64, 32
    starts = [(b, i) for b in range(batch) for i in range(b, length, 23)]
    ends = [(b, i + 2) for b, i in starts if i + 2 < length]
    head = signal_head(hidden, max_span_width=width)
    states = signal_states(batch, length, hidden, starts, ends)
    gold = SpanGold.from_answers([[5, 5], []] * 4, [[7, 40], []] * 4, seq_len=length)
    context = torch.ones(batch, length, dtype=torch.bool)
    with MaxTensorSize() as sizes:
        outputs = head(states, context, gold)
        head.loss(outputs, gold)
    start_set, end_set = set(starts) | {(b, 5) for b in (0, 2, 4, 6)}, set(ends)
    end_set |= {(b, j) for b in (0, 2, 4, 6) for j in (7, 40)}
    expected = {
        (b, i, j) for b, i in start_set for b2, j in end_set if b == b2 and 0 <= j - i < width
    } | {(b, 5, 40) for b in (0, 2, 4, 6)}
    pairs = outputs.pairs
    assert sorted(map(tuple, pairs.tolist())) == sorted(expected)
    assert pairs.shape == (len(expected), 3)
    assert len(expected) < batch * length * length / 1000
    assert sizes.largest < length * length * 2 * hidden
    assert sizes.largest <= max(batch * length * hidden, len(expected) * 2048)


def test_worst_case_candidates_stay_within_the_width_band():
    batch, length, width = 8, 512, 32
    everything = torch.ones(batch, length, dtype=torch.bool)
    with MaxTensorSize() as sizes:
        pairs = candidate_pairs(everything, everything, max_span_width=width)
    per_example = (length - width) * width + width * (width + 1) // 2
    assert pairs.shape == (batch * per_example, 3)
    assert len(pairs) < batch * length * length / 15
    assert sizes.largest <= len(pairs) * 3
    assert bool(((pairs[:, 2] - pairs[:, 1] >= 0) & (pairs[:, 2] - pairs[:, 1] < width)).all())


def test_match_logits_equal_the_mlp_on_concatenated_states():
    torch.manual_seed(1)
    head = SpanHead(6, match_hidden=16, dropout=0.0, max_span_width=3)
    states = torch.randn(2, 5, 6)
    pairs = torch.tensor([[0, 1, 3], [1, 4, 4], [1, 0, 2]])
    expected = torch.stack(
        [head.span_match(torch.cat([states[b, i], states[b, j]])) for b, i, j in pairs]
    )
    torch.testing.assert_close(head.match_logits(states, pairs), expected.squeeze(-1))


def test_loss_weights_combine_the_three_parts():
    torch.manual_seed(2)
    head = SpanHead(8, match_hidden=16, max_span_width=4, loss_weights=(1.0, 0.5, 0.25))
    gold = SpanGold.from_answers([[1, 2]], [[3, 2]], seq_len=6)
    outputs = head(torch.randn(1, 6, 8), torch.ones(1, 6, dtype=torch.bool), gold)
    loss = head.loss(outputs, gold)
    torch.testing.assert_close(loss.total, loss.start + 0.5 * loss.end + 0.25 * loss.match)
    assert all(torch.isfinite(part) for part in (loss.start, loss.end, loss.match))


def test_start_and_end_losses_ignore_tokens_outside_the_context():
    torch.manual_seed(3)
    head = SpanHead(8, match_hidden=16, max_span_width=4)
    gold = SpanGold.from_answers([[3]], [[4]], seq_len=6)
    context = torch.tensor([[False, False, True, True, True, True]])
    states = torch.randn(1, 6, 8)
    before = head.loss(head(states, context, gold), gold)
    states[0, :2] = 50 * torch.randn(2, 8)
    after = head.loss(head(states, context, gold), gold)
    torch.testing.assert_close(before.start, after.start)
    torch.testing.assert_close(before.end, after.end)


def test_no_candidates_gives_a_finite_zero_match_loss():
    head = signal_head(8)
    states = signal_states(1, 6, 8, starts=[], ends=[])
    gold = SpanGold.from_answers([[]], [[]], seq_len=6)
    outputs = head(states, torch.ones(1, 6, dtype=torch.bool), gold)
    assert outputs.pairs.shape == (0, 3)
    assert head.loss(outputs, gold).match.item() == 0.0


def test_gradients_flow_to_the_encoder_states_through_every_part():
    torch.manual_seed(4)
    encoder = nn.Linear(5, 8)
    head = SpanHead(8, match_hidden=16, max_span_width=4)
    gold = SpanGold.from_answers([[1]], [[2]], seq_len=6)
    states = encoder(torch.randn(1, 6, 5))
    states.retain_grad()
    loss = head.loss(head(states, torch.ones(1, 6, dtype=torch.bool), gold), gold)
    (match_grad,) = torch.autograd.grad(loss.match, states, retain_graph=True)
    assert match_grad[0, 1].abs().sum() > 0 and match_grad[0, 2].abs().sum() > 0
    loss.total.backward()
    assert encoder.weight.grad is not None and encoder.weight.grad.abs().sum() > 0


def test_span_head_learns_multiple_and_nested_answers():
    torch.manual_seed(5)
    length, width = 12, 4
    states = nn.Parameter(torch.randn(2, length, 16))
    head = SpanHead(16, match_hidden=32, dropout=0.0, max_span_width=width)
    gold = SpanGold.from_answers([[2, 3, 7], []], [[4, 4, 7], []], seq_len=length)
    context = torch.ones(2, length, dtype=torch.bool)
    context[:, 0] = False
    optimiser = torch.optim.Adam([states, *head.parameters()], lr=0.05)
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        loss = head.loss(head(states, context, gold), gold).total
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    head.eval()
    with torch.no_grad():
        outputs = head(states, context)
    words = torch.ones(2, length, dtype=torch.bool)
    spans = decode_spans(
        outputs.start_logits, outputs.end_logits, outputs.pairs, outputs.match_logits,
        context, words, words, width,
    )  # fmt: skip
    assert [[(i, j) for i, j, _ in found] for found in spans] == [[(2, 4), (3, 4), (7, 7)], []]


def test_span_gold_from_answers():
    gold = SpanGold.from_answers([[1, 1], []], [[1, 3], []], seq_len=5)
    assert gold.pairs.tolist() == [[0, 1, 1], [0, 1, 3]]
    assert gold.starts.tolist() == [[0, 1, 0, 0, 0], [0] * 5]
    assert gold.ends.tolist() == [[0, 1, 0, 1, 0], [0] * 5]
    assert SpanGold.from_answers([[]], [[]], seq_len=3).pairs.shape == (0, 3)


def test_span_gold_rejects_reversed_or_out_of_range_answers():
    with pytest.raises(ValueError, match="start <= end"):
        SpanGold.from_answers([[3]], [[2]], seq_len=5)
    with pytest.raises(ValueError, match="start <= end"):
        SpanGold.from_answers([[3]], [[5]], seq_len=5)


def test_span_head_rejects_a_zero_width():
    with pytest.raises(ValueError, match="max_span_width"):
        SpanHead(8, max_span_width=0)


def test_tag_head_loss_ignores_minus_100():
    torch.manual_seed(6)
    head = TagHead(8, n_labels=5)
    logits = head(torch.randn(2, 4, 8))
    labels = torch.tensor([[-100, 1, 2, -100], [0, 4, -100, -100]])
    changed = logits.detach().clone()
    changed[labels == -100] = 100.0
    torch.testing.assert_close(TagHead.loss(logits, labels), TagHead.loss(changed, labels))
    assert logits.shape == (2, 4, 5)
    assert TagHead.loss(logits, torch.full((2, 4), -100)).item() == 0.0


def test_tag_head_learns():
    torch.manual_seed(7)
    states = torch.randn(3, 6, 8)
    labels = states[..., :3].argmax(-1)
    labels[0, :2] = -100
    head = TagHead(8, n_labels=3, dropout=0.0)
    optimiser = torch.optim.Adam(head.parameters(), lr=0.1)
    first = TagHead.loss(head(states), labels).item()
    for _ in range(100):
        optimiser.zero_grad()
        TagHead.loss(head(states), labels).backward()
        optimiser.step()
    assert TagHead.loss(head(states), labels).item() < 0.2 * first


def test_pair_head_reads_only_the_two_start_markers():
    torch.manual_seed(8)
    head = PairHead(8, n_relation_types=3).eval()
    states = torch.randn(2, 7, 8, requires_grad=True)
    markers = torch.tensor([[1, 4], [0, 6]])
    logits = head(states, markers)
    assert logits.shape == (2, 4)
    expected = head.classifier(torch.stack([torch.cat([states[0, 1], states[0, 4]]),
                                            torch.cat([states[1, 0], states[1, 6]])]))  # fmt: skip
    torch.testing.assert_close(logits, expected)
    PairHead.loss(logits, torch.tensor([0, 3])).backward()
    touched = states.grad.abs().sum(-1) > 0
    assert touched.nonzero().tolist() == [[0, 1], [0, 4], [1, 0], [1, 6]]
