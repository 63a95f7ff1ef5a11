"""Fine-tuning: data, training and run management for the fine-tune lab."""
