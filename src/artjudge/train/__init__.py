"""Every training loop, each with its own config: the embedded head (``head``), the
process judge (``process``), vision-language models with LoRA (``vlm``) and distilled
students (``student``). Inference code never imports from here."""
