"""``LLMPolicy``: a Hugging Face causal LM acting in text envs, with optional LoRA (peft)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.policies import BasePolicy
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, GenerationConfig

from wrappers.actions import ACTION_CLOSE, ACTION_OPEN, format_action

from .config import ACTION_MODES, DTYPES, SCORE_REDUCTIONS, TrainConfig
from .models import resolve_model

__all__ = ["ACTION_MODES", "SCORE_REDUCTIONS", "LLMPolicy", "Response", "left_pad"]

_DEFAULT = TrainConfig()  # the defaults are the config's: the Python API and the command line share them


def left_pad(
    rows: Sequence[Sequence[int] | Sequence[float] | np.ndarray],
    pad_value: float = 0,
    dtype: torch.dtype = torch.long,
    width: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values, mask)``, both ``(len(rows), width)`` (default: the longest row), each row right-aligned.

    Batches of token ids (``dtype`` long, ``pad_value`` the pad token) and of per-token log-probs (float32, 0)
    are laid out this way, so a response's last token is always the last column; ``mask`` (long) is 1 on the rows'
    entries and 0 on the padding.
    """
    width = max(len(row) for row in rows) if width is None else width
    values = torch.full((len(rows), width), pad_value, dtype=dtype)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        values[b, width - len(row) :] = torch.as_tensor(np.asarray(row), dtype=dtype)
        mask[b, width - len(row) :] = 1
    return values, mask


@dataclass
class Response:
    """One sampled response: its text, token ids and the log-probs it was sampled with.

    In ``generate`` mode ``logprobs`` holds the ``(len(response_ids),)`` token log-probs; in ``score`` mode it
    holds ``(1,)``: ``log pi(a|s)`` of the chosen action, which is ``candidate_ids[choice]`` (== ``response_ids``)
    among the prompt's ``candidate_ids``.
    """

    text: str
    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: np.ndarray  # float32
    candidate_ids: list[list[int]] | None = None
    choice: int = -1


class LLMPolicy(BasePolicy):
    """A causal LM policy over text actions.

    Every default is :class:`~trainer.config.TrainConfig`'s (the same field name, ``model`` for
    ``model_name_or_path``), so ``gigpo-train`` and the Python API build the same policy.

    Args:
        observation_space, action_space: the env's spaces (SB3's policy contract).
        model_name_or_path: a Hugging Face id or local folder loadable by ``AutoModelForCausalLM``;
            ``"tiny"`` builds (once) and loads the offline tiny model of :mod:`trainer.models.tiny`.
        action_mode: ``"generate"`` samples a free-text response (the paper's setup) and trains its token
            log-probs; ``"score"`` is an exact policy over the admissible actions, ``pi(a|s) =
            softmax_a(score(a) / temperature)`` with ``score(a)`` the LM's summed log-prob of the command and its
            closing tag, or their mean (:meth:`candidate_logprobs`): rollouts sample from it and the update trains
            its ``log pi(a|s)`` (one log-prob per step), the mode small models learn in on a CPU.
        score_reduction: ``"mean"`` (default) or ``"sum"`` of a candidate's token log-probs in score mode. The
            sum is the LM's own probability of the command; the mean keeps an untrained model exploring: a
            random-weight model gives every token about -7.6 nats, so under the sum the shortest command
            (``look``) takes almost all the probability, while under the mean an untrained policy is close to
            uniform over the admissible set. Both are exact policies; only what the scores favour differs.
        use_lora: train a LoRA adapter (the reference policy is the model with the adapter
            disabled, no second copy); otherwise full fine-tuning with a frozen reference copy.
        lora_r, lora_alpha, lora_dropout: LoRA hyper-parameters.
        target_modules: module names LoRA adapts (default: every linear layer but the LM head).
        temperature, top_p: sampling; log-probs are taken at the same temperature (``top_p < 1`` truncates the
            sampled distribution, which the log-probs do not model: keep 1 for an exact ratio).
        max_new_tokens: response budget in ``generate`` mode.
        max_prompt_tokens: the longest prompt in tokens; :meth:`trainer.gigpo.GiGPO.prompt` drops history to fit,
            and a prompt still longer loses its middle (its head, with the task, and its tail are kept).
        score_chunk: prompts per forward pass when scoring (their candidates go 4x as many at a time).
        dtype: the weights' dtype, of the policy and its reference: ``"float32"``, ``"bfloat16"`` or ``"float16"``.
            Log-probs and the loss are computed in float32 whatever it is. Full fine-tuning in bfloat16 updates
            bfloat16 weights (AdamW keeps its moments in the weights' dtype); LoRA adapters stay float32, as peft
            casts them.
        attn_implementation: passed to ``from_pretrained`` (``"eager"``, ``"sdpa"``, ``"flash_attention_2"`` ...);
            ``None`` lets transformers choose.
        gradient_checkpointing: recompute each layer's activations in the backward pass instead of
            keeping them (less memory for longer prompts and larger micro-batches, more time: on SmolLM2
            at micro-batch 4, half the peak memory for 1.2x the update time); the gradients are the same.
        value_head: add PPO's critic (:meth:`values`): a float32 linear head on the LM's last hidden state at the
            prompt's last token, on the policy's own trunk (shared, as SB3's shared-feature PPO; verl's critic is a
            second copy of the model). With LoRA the head trains with the adapter and is saved with it.
    """

    def __init__(
        self,
        observation_space,
        action_space,
        model_name_or_path: str = _DEFAULT.model,
        action_mode: str = _DEFAULT.action_mode,
        use_lora: bool = _DEFAULT.use_lora,
        lora_r: int = _DEFAULT.lora_r,
        lora_alpha: int = _DEFAULT.lora_alpha,
        lora_dropout: float = _DEFAULT.lora_dropout,
        target_modules: Sequence[str] | str | None = _DEFAULT.target_modules,
        temperature: float = _DEFAULT.temperature,
        top_p: float = _DEFAULT.top_p,
        max_new_tokens: int = _DEFAULT.max_new_tokens,
        max_prompt_tokens: int = _DEFAULT.max_prompt_tokens,
        score_chunk: int = 16,
        gradient_checkpointing: bool = _DEFAULT.gradient_checkpointing,
        score_reduction: str = _DEFAULT.score_reduction,
        dtype: str = _DEFAULT.dtype,
        attn_implementation: str | None = _DEFAULT.attn_implementation,
        value_head: bool = False,
    ) -> None:
        super().__init__(observation_space, action_space)
        if action_mode not in ACTION_MODES:
            raise ValueError(f"action_mode must be one of {ACTION_MODES}, got {action_mode!r}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if score_reduction not in SCORE_REDUCTIONS:
            raise ValueError(f"score_reduction must be one of {SCORE_REDUCTIONS}, got {score_reduction!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self.dtype, self.attn_implementation = dtype, attn_implementation
        self.score_reduction = score_reduction
        self.model_name_or_path = model_name_or_path
        self.action_mode = action_mode
        self.use_lora = use_lora
        self.lora_r, self.lora_alpha, self.lora_dropout = lora_r, lora_alpha, lora_dropout
        self.target_modules = target_modules
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.max_new_tokens = int(max_new_tokens)
        self.max_prompt_tokens = int(max_prompt_tokens)
        self.score_chunk = int(score_chunk)
        self.gradient_checkpointing = bool(gradient_checkpointing)

        path = resolve_model(model_name_or_path)
        # Any: tokenizers and (PEFT-wrapped) models come in many classes that share the methods used here
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        attention = {"attn_implementation": attn_implementation} if attn_implementation else {}
        model: Any = AutoModelForCausalLM.from_pretrained(
            path, dtype=getattr(torch, dtype), trust_remote_code=False, **attention
        )
        if gradient_checkpointing:
            # non-reentrant: gradients reach LoRA adapters even though the frozen embeddings need none
            model.activation_checkpointing_enable({"use_reentrant": False})
        if use_lora:
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(
                r=lora_r,
                lora_alpha=lora_alpha,
                lora_dropout=lora_dropout,
                target_modules=list(target_modules)
                if isinstance(target_modules, list | tuple)
                else str(target_modules or "all-linear"),
                task_type="CAUSAL_LM",
            )
            try:
                model = get_peft_model(model, config)
            except ValueError as err:
                names = sorted(
                    {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
                )
                raise ValueError(
                    f"LoRA target_modules {target_modules!r} not found in {model_name_or_path}; "
                    f"its linear modules are {names}"
                ) from err
            self.reference = None
        else:
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        self.model: Any = model
        self.value_head: torch.nn.Linear | None = None
        if value_head:
            hidden = model.get_input_embeddings().embedding_dim
            # small weights, zero bias: the untrained critic predicts about 0 for every state
            self.value_head = torch.nn.Linear(hidden, 1, dtype=torch.float32)
            torch.nn.init.normal_(self.value_head.weight, std=hidden**-0.5 * 0.1)
            torch.nn.init.zeros_(self.value_head.bias)

    # ------------------------------------------------------------------ SB3 contract

    def _predict(self, observation: Any, deterministic: bool = False) -> Any:  # pragma: no cover
        raise NotImplementedError("use LLMPolicy.act(prompts, admissible) or GiGPO.predict(obs)")

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            model_name_or_path=self.model_name_or_path,
            action_mode=self.action_mode,
            use_lora=self.use_lora,
            lora_r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=self.target_modules,
            score_chunk=self.score_chunk,
            gradient_checkpointing=self.gradient_checkpointing,
            score_reduction=self.score_reduction,
            dtype=self.dtype,
            attn_implementation=self.attn_implementation,
            value_head=self.value_head is not None,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            max_prompt_tokens=self.max_prompt_tokens,
        )
        return data

    @contextlib.contextmanager
    def forward_through(self, wrapped: torch.nn.Module | None) -> Iterator[None]:
        """Run the model's forward passes through ``wrapped`` (the engine's DDP wrapper of it) in the block."""
        if wrapped is None:
            yield
            return
        model = self.model
        self.model = wrapped
        try:
            yield
        finally:
            self.model = model

    # ------------------------------------------------------------------ tokens

    def encode_prompts(self, prompts: Sequence[str]) -> list[list[int]]:
        """Token ids of each prompt; one longer than ``max_prompt_tokens`` keeps its first and last halves.

        The head holds the chat header and the task, the tail the observation's end, the admissible actions and the
        answer format: what the model cannot act without.
        """
        ids = self.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
        head = self.max_prompt_tokens // 2
        tail = self.max_prompt_tokens - head
        return [p if len(p) <= self.max_prompt_tokens else p[:head] + p[len(p) - tail :] for p in ids]

    def state_ids(self, prompts: Sequence[str]) -> list[list[int]]:
        """The token ids the policy acts from (and the critic values): the prompt, and in score mode the ``<action>``
        opening every candidate."""
        ids = self.encode_prompts(prompts)
        return [p + self.action_prefix_ids for p in ids] if self.action_mode == "score" else ids

    def values(self, state_ids: Sequence[list[int]]) -> torch.Tensor:
        """PPO's critic: ``(B,)`` float32 ``V(s)`` of each state (:meth:`state_ids`), differentiable.

        The last layer's hidden state at the last token (prompts are left-padded, so it is the last position) goes
        through the linear value head.
        """
        if self.value_head is None:
            raise RuntimeError("this policy has no value head: build it with value_head=True (estimator='ppo')")
        input_ids, attention = (x.to(self.device) for x in self._pad(state_ids))
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=(attention.cumsum(-1) - 1).clamp(min=0),
            use_cache=False,
            output_hidden_states=True,
            logits_to_keep=1,
        )
        return self.value_head(out.hidden_states[-1][:, -1].float())[:, 0]

    def _pad(self, sequences: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, attention_mask)`` of shape ``(B, longest)``, left-padded with the tokenizer's pad token."""
        return left_pad(sequences, self.tokenizer.pad_token_id)

    def encode_response(self, text: str) -> list[int]:
        """Token ids of a response, closed by the end-of-sequence token."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]

    def _forward_logprobs(
        self,
        prompt_ids: Sequence[list[int]],
        response_ids: Sequence[list[int]],
        reference: bool,
        with_entropy: bool,
        temperature: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Log-probs ``(B, T)`` of each response token given its prompt, its mask, and the entropy.

        Sequences are left-padded; position ids follow the attention mask so padding changes
        nothing. Only the response positions' logits are kept (never a whole batch's).
        """
        device = self.device
        input_ids, attention = self._pad([p + r for p, r in zip(prompt_ids, response_ids, strict=True)])
        targets, target_mask = self._pad(response_ids)
        t_max = targets.shape[1]
        input_ids, attention, targets = input_ids.to(device), attention.to(device), targets.to(device)
        mask = target_mask.to(device=device, dtype=torch.float32)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        if reference and self.reference is not None:
            hidden_model = self.reference
        else:
            hidden_model = self.model
        # logits_to_keep: project only the response positions onto the vocabulary (memory and time).
        kwargs = dict(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=positions,
            use_cache=False,
            logits_to_keep=t_max + 1,
        )
        with self._reference_context(reference):
            logits = hidden_model(**kwargs).logits
        # The logit at position j predicts token j + 1: drop the last kept position.
        logits = logits[:, :t_max, :].float() / (self.temperature if temperature is None else temperature)
        logp_all = torch.log_softmax(logits, dim=-1)
        logp = logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1) * mask
        entropy = None
        if with_entropy:
            entropy = -(logp_all.exp() * logp_all).sum(-1) * mask
        return logp, mask, entropy

    def response_logprobs(
        self,
        prompt_ids: Sequence[list[int]],
        response_ids: Sequence[list[int]],
        reference: bool = False,
        with_entropy: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Per-token log-probs ``(B, T)`` (zero-padded on the left), mask and optional entropy.

        ``reference=True`` uses the reference policy (adapter disabled, or the frozen copy).
        """
        return self._forward_logprobs(prompt_ids, response_ids, reference, with_entropy)

    # ------------------------------------------------------------------ score mode: a softmax over the admissible set

    def encode_candidates(self, admissible: Sequence[str]) -> list[list[int]]:
        """Score mode's token ids of each command: the command and the closing tag, after a shared ``<action>``.

        The closing tag is scored because it is where a command ends: without it ``go to cabinet 1`` would be a
        prefix of ``go to cabinet 10`` and always score at least as high. The opening tag is part of the prompt
        (it is the same for every candidate) and no end-of-sequence token is scored.
        """
        return self.tokenizer([c + ACTION_CLOSE for c in admissible], add_special_tokens=False)["input_ids"]

    @property
    def action_prefix_ids(self) -> list[int]:
        """Token ids of ``<action>``, appended to a score-mode prompt."""
        return self.tokenizer(ACTION_OPEN, add_special_tokens=False)["input_ids"]

    def candidate_logprobs(
        self, prompt_ids: Sequence[list[int]], candidate_ids: Sequence[Sequence[list[int]]], reference: bool = False
    ) -> list[torch.Tensor]:
        """Score mode's policy: ``log pi(a|s)`` of every candidate of every prompt, one ``(n_b,)`` tensor each.

        ``pi(a|s) = softmax_a(score(a) / temperature)`` over the prompt's candidates, where ``score(a)`` is the
        mean (``score_reduction="mean"``) or sum (``"sum"``, the LM's own probability of the command) of the
        log-probs of the candidate's tokens (:meth:`encode_candidates`) after the prompt. Rollouts sample from it
        and the update differentiates it (the gradient flows when autograd is on), so the trained distribution is
        the sampled one. Each prompt runs once and its KV cache is shared by its candidates. ``reference=True``
        scores with the reference policy.
        """
        if self.gradient_checkpointing and self.model.training and torch.is_grad_enabled():
            # a checkpointed layer cannot keep a KV cache: score each (prompt, candidate) pair as one sequence
            pairs = [(p, c) for p, cands in zip(prompt_ids, candidate_ids, strict=True) for c in cands]
            logp, mask, _ = self._forward_logprobs([p for p, _ in pairs], [c for _, c in pairs], reference, False, 1.0)
            return self._candidate_softmax(self._reduce(logp, mask), candidate_ids)
        scores: list[torch.Tensor] = []
        with self._reference_context(reference):
            for start in range(0, len(prompt_ids), self.score_chunk):
                chunk = slice(start, start + self.score_chunk)
                scores.append(self._candidate_scores(prompt_ids[chunk], candidate_ids[chunk], reference))
        return self._candidate_softmax(torch.cat(scores), candidate_ids)

    def _candidate_softmax(self, scores: torch.Tensor, candidate_ids) -> list[torch.Tensor]:
        """Split the flat candidate scores by prompt into ``log softmax(score / temperature)``."""
        scores = scores / self.temperature
        out, k = [], 0
        for cands in candidate_ids:
            s = scores[k : k + len(cands)]
            out.append(s - torch.logsumexp(s, 0))
            k += len(cands)
        return out

    @contextlib.contextmanager
    def _reference_context(self, reference: bool):
        if reference and self.reference is None:  # LoRA: the reference is the base model
            with self.model.disable_adapter():
                yield
        else:
            yield

    def _candidate_scores(self, prompt_ids, candidate_ids, reference: bool) -> torch.Tensor:
        """The flat ``(sum n_b,)`` summed log-probs of a few prompts' candidates, each prompt run once."""
        device, pad = self.device, self.tokenizer.pad_token_id
        model = self.reference if reference and self.reference is not None else self.model
        input_ids, attention = (x.to(device) for x in self._pad(prompt_ids))
        prompt_out = model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=(attention.cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
            logits_to_keep=1,
        )
        first_logp = torch.log_softmax(prompt_out.logits[:, -1].float(), dim=-1)
        layers = prompt_out.past_key_values.layers
        rows = [b for b, cands in enumerate(candidate_ids) for _ in cands]
        flat = [c for cands in candidate_ids for c in cands]
        scores: list[torch.Tensor] = []
        step = 4 * self.score_chunk
        for c0 in range(0, len(flat), step):
            sel = torch.tensor(rows[c0 : c0 + step], device=device)
            ids = flat[c0 : c0 + step]
            length = max(len(c) for c in ids)
            cand = torch.full((len(ids), length), pad, dtype=torch.long)
            cmask = torch.zeros((len(ids), length), dtype=torch.float32)
            for k, c in enumerate(ids):  # right-padded: padding after a candidate changes none of its tokens
                cand[k, : len(c)] = torch.tensor(c)
                cmask[k, : len(c)] = 1.0
            cand, cmask = cand.to(device), cmask.to(device)
            # a new cache of the selected rows (indexing, not an in-place copy): gradients reach the prompt pass
            cache = DynamicCache(ddp_cache_data=[(layer.keys[sel], layer.values[sel]) for layer in layers])
            positions = attention[sel].sum(-1, keepdim=True) + torch.arange(length, device=device)
            logits = model(
                input_ids=cand,
                attention_mask=torch.cat([attention[sel], cmask.long()], dim=1),
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
            ).logits[:, :-1]
            rest = torch.log_softmax(logits.float(), dim=-1).gather(-1, cand[:, 1:, None])[..., 0]
            token_logp = torch.cat([first_logp[sel].gather(-1, cand[:, :1]), rest], dim=1)
            scores.append(self._reduce(token_logp, cmask))
        return torch.cat(scores)

    def _reduce(self, token_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """A candidate's score from its token log-probs: their sum or their mean (``score_reduction``)."""
        total = (token_logp * mask).sum(-1)
        return total if self.score_reduction == "sum" else total / mask.sum(-1)

    # ------------------------------------------------------------------ acting

    @torch.no_grad()
    def act(
        self,
        prompts: Sequence[str],
        admissible: Sequence[Sequence[str]],
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> list[Response]:
        """Sample one response per prompt (``admissible`` is used by ``score`` mode)."""
        prompt_ids = self.state_ids(prompts)
        if self.action_mode == "score":
            return self._act_score(prompt_ids, admissible, deterministic, generator)
        return self._act_generate(prompt_ids, deterministic)

    def _act_score(self, prompt_ids, admissible, deterministic, generator) -> list[Response]:
        if any(len(a) == 0 for a in admissible):
            raise ValueError("score mode needs at least one admissible action per prompt")
        candidates = [self.encode_candidates(a) for a in admissible]
        out = []
        for p, cands, commands, logp in zip(
            prompt_ids, candidates, admissible, self.candidate_logprobs(prompt_ids, candidates), strict=True
        ):
            if deterministic:
                pick = int(logp.argmax())
            else:
                pick = int(torch.multinomial(logp.exp().cpu(), 1, generator=generator))
            logprob = logp[pick : pick + 1].cpu().numpy().astype(np.float32)
            out.append(Response(format_action(commands[pick]), p, cands[pick], logprob, cands, pick))
        return out

    def generation_config(self, deterministic: bool) -> GenerationConfig:
        """The whole sampling configuration: plain softmax sampling at ``temperature`` with ``top_p``, nothing else.

        Built from scratch rather than on the checkpoint's ``generation_config``, whose other fields (Qwen2.5-Instruct
        ships ``repetition_penalty`` 1.05-1.1, ``top_k`` 20) would otherwise apply: samples would then not follow
        the log-probs the update's ratio uses.
        """
        common = dict(
            max_new_tokens=self.max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            repetition_penalty=1.0,
            top_k=0,
            top_p=1.0,
            temperature=1.0,
        )
        if deterministic:
            return GenerationConfig(do_sample=False, **common)
        return GenerationConfig(**{**common, "do_sample": True, "temperature": self.temperature, "top_p": self.top_p})

    def _act_generate(self, prompt_ids, deterministic) -> list[Response]:
        input_ids, attention = self._pad(prompt_ids)
        width = input_ids.shape[1]
        generated = self.model.generate(
            input_ids=input_ids.to(self.device),
            attention_mask=attention.to(self.device),
            generation_config=self.generation_config(deterministic),
        )[:, width:].cpu()
        responses = []
        for row in generated.tolist():
            ids = row[: row.index(self.tokenizer.eos_token_id) + 1] if self.tokenizer.eos_token_id in row else row
            responses.append(ids or [self.tokenizer.eos_token_id])
        logp, _, _ = self._forward_logprobs(prompt_ids, responses, False, False)
        return [
            Response(
                self.tokenizer.decode(r, skip_special_tokens=True),
                p,
                r,
                row[-len(r) :].cpu().numpy().astype(np.float32),
            )
            for p, r, row in zip(prompt_ids, responses, logp, strict=True)
        ]

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """With LoRA only the adapter's tensors: checkpoints stay small and the base reloads from its source."""
        if not self.use_lora:
            return super().state_dict(*args, **kwargs)
        from peft import get_peft_model_state_dict

        state = {f"adapter.{k}": v for k, v in get_peft_model_state_dict(self.model).items()}
        if self.value_head is not None:  # the critic trains with the adapter: saved with it
            state.update({f"value_head.{k}": v for k, v in self.value_head.state_dict().items()})
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        if not self.use_lora:
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        from peft import set_peft_model_state_dict

        head = {k.removeprefix("value_head."): v for k, v in state_dict.items() if k.startswith("value_head.")}
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("value_head.")}
        if strict and not all(k.startswith("adapter.") for k in state_dict):
            raise ValueError("expected an adapter-only state dict (keys 'adapter.*') for a LoRA policy")
        if strict and bool(head) != (self.value_head is not None):
            raise ValueError("the state dict's value head does not match the policy's (value_head=True for PPO)")
        if self.value_head is not None and head:
            self.value_head.load_state_dict(head, strict=strict)
        adapter = {k.removeprefix("adapter."): v for k, v in state_dict.items()}
        result: Any = set_peft_model_state_dict(self.model, adapter)
        if strict and result.unexpected_keys:
            raise ValueError(f"adapter tensors not in the model: {result.unexpected_keys[:5]}")
        return result

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters the optimiser updates (the LoRA adapter, or the whole model; and the value head)."""
        head = list(self.value_head.parameters()) if self.value_head is not None else []
        return [p for p in self.model.parameters() if p.requires_grad] + head
