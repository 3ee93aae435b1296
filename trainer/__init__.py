"""GiGPO trainer: advantage estimators, rollout buffer, LLM policy and the SB3-style algorithm."""
