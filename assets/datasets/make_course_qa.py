"""Write the bundled ``course-qa`` dataset: questions about the course, short answers.

    python assets/datasets/make_course_qa.py     # rewrites course-qa/train.jsonl and heldout.jsonl

Each entry of ``FACTS`` is one fact from CURRICULUM.md: several phrasings of a question and
one answer, written in a single voice (a tutor: plain declarative sentences, 1-3 of them,
numbers exactly as the curriculum gives them). Every phrasing becomes a prompt -> response
pair. For every other fact one phrasing, chosen with a seeded ``random.Random``, is held out,
so the held-out set asks about facts seen in training in words never seen in training.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261123
OUT = Path(__file__).resolve().parent / "course-qa"

FACTS: list[tuple[list[str], str]] = [
    # 1. Parameters and sizes
    (
        [
            "What are the parameters of a neural network?",
            "What counts as a parameter in a network?",
            "Which numbers in a network are its parameters?",
            "Define the parameters of a neural network.",
        ],
        "A network's parameters are its weights and biases.",
    ),
    (
        [
            "How many parameters does a dense layer with n_in inputs and n_out outputs have?",
            "How do I count the parameters of a dense layer?",
            "What is the parameter count of a fully connected layer n_in -> n_out?",
            "Give the formula for the number of parameters in a dense layer.",
        ],
        "A dense layer n_in -> n_out has n_in*n_out weights plus n_out biases, so n_in*n_out + n_out parameters.",
    ),
    (
        [
            "How many parameters does a perceptron with weights w1, w2, w3 and a bias b have?",
            "A perceptron has three weights and one bias. How many parameters is that?",
            "Count the parameters of a perceptron with three inputs and a bias.",
            "What is the parameter count of a three-input perceptron with a bias?",
        ],
        "It has 4 parameters: the three weights w1, w2, w3 and the bias b.",
    ),
    (
        [
            "How many parameters does a dense layer from 3 inputs to 2 outputs have?",
            "Count the parameters of a 3 -> 2 layer.",
            "What is the parameter count of a layer mapping 3 values to 2?",
            "A layer takes 3 inputs and gives 2 outputs. How many parameters does it have?",
        ],
        "It has 3*2 + 2 = 8 parameters: 6 weights and 2 biases.",
    ),
    (
        [
            "How many parameters does a dense layer from 2 inputs to 1 output have?",
            "Count the parameters of a 2 -> 1 layer.",
            "What is the parameter count of a layer with 2 inputs and a single output?",
        ],
        "It has 2*1 + 1 = 3 parameters: 2 weights and 1 bias.",
    ),
    (
        [
            "How many parameters does the network 4-3-3-2-1 have?",
            "Count the parameters of a 4-3-3-2-1 network.",
            "What is the total parameter count of a network with layer sizes 4, 3, 3, 2, 1?",
            "Work out the number of parameters in the 4-3-3-2-1 network.",
            "How do you get the parameter count of the 4-3-3-2-1 network?",
        ],
        "It has (4*3+3) + (3*3+3) + (3*2+2) + (2*1+1) = 15 + 12 + 8 + 3 = 38 parameters.",
    ),
    (
        [
            'What does "7B" mean in a model\'s name?',
            'What does the 7B in "a 7B model" stand for?',
            "When a model is called 7B, what is being counted?",
            "What is a 7B model?",
        ],
        '"7B" means 7 billion parameters.',
    ),
    (
        [
            "How many parameters does GPT-3 have?",
            "What is the size of GPT-3 in parameters?",
            "How big is GPT-3?",
            "What is GPT-3's parameter count?",
        ],
        "GPT-3 has 175 billion (175B) parameters.",
    ),
    (
        [
            "What sizes do open model families like Llama, Mistral, Gemma and Qwen come in?",
            "How large are Llama, Mistral, Gemma and Qwen models?",
            "What range of sizes do open LLM families cover?",
            "From how small to how large do Llama, Mistral, Gemma and Qwen go?",
        ],
        "They come in sizes from about 0.1B to 70B+ parameters.",
    ),
    (
        [
            "How many bits are in a byte?",
            "The notes say 1 byte = 32 bits. Is that right?",
            "What is 1 byte in bits?",
            "Is a byte 8 bits or 32 bits?",
        ],
        '1 byte = 8 bits. The notes once write "1 byte = 32 bits", which is a slip: FP32 is 32 bits, that is 4 bytes.',
    ),
    (
        [
            "How many bytes does one FP32 number take?",
            "How big is a 32-bit float in bytes?",
            "What is the size of an FP32 value?",
            "How many bits and bytes is FP32?",
        ],
        "FP32 is 32 bits, which is 4 bytes.",
    ),
    (
        [
            "How many bytes are in a kilobyte, and kilobytes in a megabyte?",
            "What are the conversions between KB, MB and GB?",
            "How many MB make a GB?",
            "Which unit conversions does the course use for KB, MB and GB?",
        ],
        "1 KB = 1024 B, 1 MB = 1024 KB and 1 GB = 1024 MB.",
    ),
    (
        [
            "How many bytes does one parameter take in FP16 or BF16?",
            "What is the memory per parameter in half precision?",
            "How much memory does a BF16 weight need?",
            "How many bytes is an FP16 parameter?",
        ],
        "FP16 and BF16 take 2 bytes per parameter.",
    ),
    (
        [
            "How many bytes does one parameter take in INT8 or FP8?",
            "What is the memory per parameter for 8-bit weights?",
            "How big is an INT8 weight?",
            "How many bytes is an FP8 parameter?",
        ],
        "INT8 and FP8 take 1 byte per parameter.",
    ),
    (
        [
            "How many bytes does one parameter take in INT4 or NF4?",
            "What is the memory per parameter for 4-bit weights?",
            "How big is an NF4 weight in bytes?",
            "How much memory does a 4-bit parameter need?",
        ],
        "INT4 and NF4 take 0.5 byte per parameter, plus the scale constants.",
    ),
    (
        [
            "How much memory do GPT-3's weights need in FP32?",
            "What is the size of GPT-3 at 32-bit precision?",
            "How many GB are GPT-3's 175B parameters in FP32?",
            "Compute the FP32 memory of GPT-3's weights.",
        ],
        "175e9 parameters * 4 bytes = 700 GB, which is 651.9 GiB.",
    ),
    (
        [
            "How much memory do the notes say LoRA and QLoRA need for a 7B model?",
            "Do LoRA and QLoRA on a 7B model really need 32 GB and 12-24 GB?",
            "What memory claims do the notes make for LoRA and QLoRA?",
            "How can I check the notes' memory figures for LoRA and QLoRA?",
        ],
        "The notes say LoRA needs about 32 GB and QLoRA 12-24 GB for a 7B model. About 32 GB holds for LoRA with the model in fp32 at batch 1; QLoRA at batch 1 needs under 12 GB, and 12-24 GB is a batch of about 4 x 512 tokens.",
    ),
    # 2. Quantization
    (
        [
            "What is quantization?",
            "Define quantization.",
            "What does it mean to quantize a model?",
            "Explain quantization in one sentence.",
        ],
        "Quantization converts values from a higher-memory format to a lower one, for example FP32 -> INT8. It loses information.",
    ),
    (
        [
            "What happens to memory and error as you go from FP32 to FP16 to INT8 to 4-bit?",
            "How do memory and error change with fewer bits?",
            "What is the trade-off when lowering the precision of weights?",
            "Does quantizing to fewer bits cost accuracy?",
        ],
        "From FP32 to FP16 to INT8 to 4-bit, memory goes down and the error goes up.",
    ),
    (
        [
            "How is the scale computed in min-max quantization?",
            "What is the formula for the scale in asymmetric quantization?",
            "Give the min-max scale formula.",
            "How do you get the step size in min-max quantization?",
        ],
        "scale = (x_max - x_min) / (q_max - q_min): the range of the values divided by the range of the integer levels.",
    ),
    (
        [
            "How is the zero point computed in min-max quantization?",
            "What is the formula for the zero point?",
            "Give the zero point formula of asymmetric quantization.",
            "How do you find the zero point?",
        ],
        "zero_point = round(-x_min / scale).",
    ),
    (
        [
            "How do you quantize and dequantize a value with a scale and zero point?",
            "What are the formulas for q and x_hat in min-max quantization?",
            "How is a value mapped to an integer and back in asymmetric quantization?",
            "Give the quantize and dequantize formulas.",
        ],
        "q = clamp(round(x / scale) + zero_point) and x_hat = (q - zero_point) * scale.",
    ),
    (
        [
            "What is the integer range of unsigned b-bit quantization?",
            "Which integers does unsigned 8-bit quantization use?",
            "What range of levels does an unsigned b-bit quantizer have?",
            "What are q_min and q_max for unsigned b bits?",
        ],
        "Unsigned b-bit quantization uses [0, 2^b - 1]; for 8 bits that is [0, 255].",
    ),
    (
        [
            "Why is the range widened to include 0 in min-max quantization?",
            "Why must 0 be inside the quantization range?",
            "What is the reason for including zero in the range?",
            "Whose convention is it to widen the range to include 0?",
        ],
        "The range is widened to include 0 so that 0 is exactly representable. This is PyTorch's convention.",
    ),
    (
        [
            "Quantize values in [0, 1000] to unsigned int8: what are the scale, the zero point and the code of 250?",
            "In the notes' symmetric unsigned int8 example on [0, 1000], what does 250 become?",
            "What scale does the range [0, 1000] give in 8 bits?",
            "Work through example A: values in [0, 1000] to int8.",
        ],
        "scale = 1000/255 = 3.92 and the zero point is 0, so 250 -> round(250/3.92) = 64.",
    ),
    (
        [
            "Quantize the range [-20.0, 1000.0] to [0, 255]: what are the scale and zero point?",
            "In the notes' asymmetric example [-20, 1000], where do -20 and 1000 go?",
            "What zero point does the range [-20, 1000] give in 8 bits?",
            "Work through example B: [-20.0, 1000.0] to unsigned int8.",
        ],
        "scale = 1020/255 = 4.0 and zero point = round(20/4) = 5. Then -20 -> 0 and 1000 -> 255.",
    ),
    (
        [
            "What is absmax quantization?",
            "How does symmetric signed quantization compute its scale?",
            "What convention does LLM.int8() use for the scale?",
            "What range does absmax int8 quantization use?",
        ],
        "Absmax is symmetric and signed: scale = max|x| / (2^(b-1) - 1) and q = round(x / scale). For int8 the range is [-127, 127], the LLM.int8() convention.",
    ),
    (
        [
            "What is calibration in quantization?",
            "How is the quantization range chosen?",
            "What does clipping at a percentile trade off?",
            "Why not always use the min and max as the range?",
        ],
        "Calibration is choosing the range, from the min and max or by clipping at a percentile. It trades clipping error against rounding error.",
    ),
    (
        [
            "Why are outliers a problem for quantization?",
            "What does one large value do to the other quantized values?",
            "How does an outlier hurt quantization?",
            "What happens when a tensor has one huge value?",
        ],
        "One large value stretches the scale and crushes every other value onto a few levels.",
    ),
    (
        [
            "What is block-wise quantization?",
            "How does block-wise quantization help with outliers?",
            "Why use a scale per block of 64 values?",
            "How can the damage of an outlier be contained?",
        ],
        "Block-wise quantization gives each block of, for example, 64 values its own scale, so an outlier only affects its own block.",
    ),
    (
        [
            "What is NF4?",
            "How does NormalFloat4 place its levels?",
            "Describe the NF4 data type from QLoRA.",
            "How many levels does NF4 have and where are they?",
        ],
        "NF4 (NormalFloat4, from QLoRA) has 16 levels placed at quantiles of a normal distribution, normalized to [-1, 1], with an exact zero. Each block of 64 weights stores its absmax.",
    ),
    (
        [
            "Why does NF4 beat uniform INT4 on model weights?",
            "What perplexities does the QLoRA paper report for Int4, FP4 and NF4?",
            "Is NF4 better than INT4, and by how much?",
            "What does Table 2 of the QLoRA paper show?",
        ],
        "Trained weights are roughly normal, so NF4's levels fit them better than uniform INT4's. QLoRA's Table 2 gives mean perplexity Int4 34.34, FP4 31.07 and NF4 with double quantization 27.41.",
    ),
    (
        [
            "What are the smallest and largest NF4 values?",
            "Does NF4 include zero?",
            "How many NF4 levels are negative and how many positive?",
            "What range do the NF4 levels cover?",
        ],
        "The NF4 levels run from -1.0 to 1.0 with an exact 0.0: 7 negative levels, zero, and 8 positive levels.",
    ),
    (
        [
            "Which NF4 levels are closest to zero?",
            "What is the smallest positive NF4 value?",
            "What is the NF4 level just below zero?",
        ],
        "Just above zero is 0.07958029955625534 and just below it is -0.09105003625154495, as bitsandbytes hard-codes them.",
    ),
    (
        [
            "How does bitsandbytes store 4-bit codes in bytes?",
            "Which nibble holds the first element in bitsandbytes' 4-bit packing?",
            "How many NF4 codes fit in one byte?",
            "How are two 4-bit values packed together?",
        ],
        "bitsandbytes packs two 4-bit codes per byte, with the first element in the high nibble.",
    ),
    (
        [
            "How much do the FP32 absmax constants cost per parameter without double quantization?",
            "What is the overhead of one FP32 scale per 64 weights?",
            "How many bits per parameter do the block scales add?",
        ],
        "One FP32 absmax per 64 weights costs 32/64 = 0.5 bit per parameter.",
    ),
    (
        [
            "What is double quantization?",
            "How much does double quantization save?",
            "What do the constants cost after double quantization?",
            "How much memory does double quantization save on a 65B model?",
        ],
        "Double quantization quantizes the absmax constants to 8 bits in blocks of 256. They then cost 8/64 + 32/(64*256) = 0.127 bit per parameter, a saving of 0.373 bit per parameter (about 3 GB on a 65B model).",
    ),
    (
        [
            "What is ternary quantization in BitNet b1.58?",
            "Which values can BitNet b1.58 weights take?",
            "How does BitNet b1.58 choose its scale?",
            "Describe ternary weights.",
        ],
        "BitNet b1.58 uses ternary weights in {-1, 0, +1} with one scale, the mean absolute value.",
    ),
    (
        [
            "What is post-training quantization?",
            "What does PTQ mean?",
            "How does post-training quantization work?",
        ],
        "Post-training quantization (PTQ) trains in FP32, then converts the weights and biases to FP16 or INT8.",
    ),
    (
        [
            "What is quantization-aware training?",
            "What does QAT mean?",
            "Why use quantization-aware training instead of PTQ?",
            "How does QAT help at low bit widths?",
        ],
        "Quantization-aware training (QAT) simulates the rounding during training or fine-tuning so the model adapts. It recovers accuracy at low bit widths, with models 2-4x smaller.",
    ),
    (
        [
            "In what precision does QLoRA compute?",
            "How does QLoRA multiply with 4-bit weights?",
            "Which weights get gradients in QLoRA?",
            "Does QLoRA compute in 4 bits?",
        ],
        "QLoRA computes in 16 bits: each 4-bit weight block is dequantized on the fly (4 -> 16) for its matrix product. Only the LoRA adapters get gradients.",
    ),
    (
        [
            "What BitsAndBytesConfig do the notes use?",
            "How do I load a model in 4-bit NF4 with double quantization in transformers?",
            "Which bitsandbytes settings do the notes give for QLoRA?",
            "Write the notes' 4-bit quantization config.",
        ],
        'BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_use_double_quant=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float16).',
    ),
    # 3. Matrix rank
    (
        [
            "What is the rank of a matrix?",
            "Define matrix rank.",
            "Is the rank counted over rows or columns?",
            "What does the rank of a matrix measure?",
        ],
        "The rank is the number of linearly independent rows, which equals the number of linearly independent columns.",
    ),
    (
        [
            "Which matrix has rank 0?",
            "Can a non-zero matrix have rank 0?",
            "When is the rank of a matrix zero?",
        ],
        "Only the zero matrix has rank 0.",
    ),
    (
        [
            "How do you find a matrix's rank by row reduction?",
            "How does echelon form give the rank?",
            "What do pivots have to do with rank?",
            "How do I compute rank by hand?",
        ],
        "Row-reduce the matrix to echelon form; the rank is the number of non-zero rows, that is the number of pivots.",
    ),
    (
        [
            "What is the rank of [[1,2,3],[0,4,2],[2,6,5]]?",
            "Row-reduce [[1,2,3],[0,4,2],[2,6,5]]: what are the steps?",
            "How many pivots does [[1,2,3],[0,4,2],[2,6,5]] have?",
            "Is the notes' matrix [[1,2,3],[0,4,2],[2,6,5]] full rank?",
        ],
        "R3 -> R3 - 2*R1 gives [0,2,-1], then R3 -> R3 - (1/2)*R2 gives [0,0,-2]. There are three pivots, so the rank is 3.",
    ),
    (
        [
            "What is the outer product of [1,2,3]^T and [4,1,5,6]?",
            "What is the rank of the outer product [1,2,3]^T x [4,1,5,6]?",
            "How many numbers does it take to store the outer product of [1,2,3] and [4,1,5,6]?",
            "Why does an outer product of two vectors have rank 1?",
        ],
        "It is a 3x4 matrix of rank 1, since every row is a multiple of [4,1,5,6]. Its 12 numbers can be stored as 3 + 4 = 7.",
    ),
    (
        [
            "How does a low-rank matrix factor?",
            "How many numbers does a rank-r d x k matrix need when factored?",
            "What are the shapes of the factors of a d x k matrix of rank r?",
            "Why does low rank save storage?",
        ],
        "A d x k matrix of rank r factors as B (d x r) times A (r x k): r*(d+k) numbers instead of d*k.",
    ),
    (
        [
            "What gives the best rank-r approximation of a matrix?",
            "What does the Eckart-Young theorem say?",
            "How do you approximate a matrix with a lower rank?",
            "What sets the error of a truncated SVD?",
        ],
        "The SVD gives the best rank-r approximation (Eckart-Young). Its error is set by the discarded singular values.",
    ),
    # 4. LoRA
    (
        [
            "What does full fine-tuning update?",
            "Why is full fine-tuning expensive?",
            "What becomes the constraint when fine-tuning every weight?",
            "How many weights does full fine-tuning of GPT-3 update?",
        ],
        "Full fine-tuning updates every weight, 175B for GPT-3, so RAM, GPU memory and storage become the constraint.",
    ),
    (
        [
            "What is LoRA?",
            "How does LoRA change a weight matrix?",
            "What is the LoRA update formula?",
            "Explain LoRA in one sentence.",
        ],
        "LoRA freezes W0 and learns a low-rank change: W' = W0 + dW with dW = (alpha/r) * B * A. Instead of updating the weights, it tracks changes.",
    ),
    (
        [
            "How many parameters does a 4096 x 4096 weight matrix have?",
            "Count the entries of a 4096 by 4096 matrix.",
            "What is 4096 * 4096?",
        ],
        "A 4096 x 4096 weight has 16,777,216 parameters.",
    ),
    (
        [
            "How many parameters does a rank-1 LoRA on a 4096 x 4096 weight add?",
            "What are the shapes of A and B for rank 1 on a 4096 x 4096 layer?",
            "What fraction of a 4096 x 4096 matrix does a rank-1 adapter train?",
            "How small is a rank-1 LoRA adapter on a 4096 x 4096 weight?",
        ],
        "A is 1 x 4096 and B is 4096 x 1, so 8,192 parameters, 0.049% of the 16,777,216 weights.",
    ),
    (
        [
            "How many LoRA parameters does rank 8 or rank 16 give on a 4096 x 4096 weight?",
            "How many parameters is a rank-8 adapter on a 4096 x 4096 layer?",
            "How many parameters is a rank-16 adapter on a 4096 x 4096 layer?",
            "How does the LoRA parameter count grow with the rank on a 4096 x 4096 weight?",
        ],
        "The count is r*(4096 + 4096): rank 8 gives 65,536 parameters and rank 16 gives 131,072.",
    ),
    (
        [
            "Why does LoRA's B start at zero?",
            "What is dW at the first step of LoRA training?",
            "How does LoRA make training start from the pretrained model?",
            "Why is B initialised to zeros in LoRA?",
        ],
        "B starts at zero, so dW = B*A = 0 at step 0 and training starts exactly from the pretrained model.",
    ),
    (
        [
            "What is LoRA's scaling factor?",
            "How should I choose alpha for a given rank?",
            "What is the rule of thumb for LoRA's alpha and r?",
            "What does alpha do in LoRA?",
        ],
        "The update is scaled by alpha/r: the LoRA paper fixes alpha, so changing r needs no new learning rate. The rule of thumb alpha = 2r fixes the scaling at 2 for every r; rsLoRA uses alpha/sqrt(r).",
    ),
    (
        [
            "What shapes does peft give lora_A and lora_B?",
            "How does peft compute a LoRA layer's forward pass?",
            "What is the shape of lora_A.weight in peft?",
            "What is the shape of lora_B.weight in peft?",
        ],
        "In peft, lora_A.weight is [r, in_features] and lora_B.weight is [out_features, r]. The forward adds lora_B(lora_A(dropout(x))) * scaling.",
    ),
    (
        [
            "How do the notes name A and B compared with peft?",
            "The notes write A as r x d and B as d x r. Is that wrong?",
            "Do the notes and peft disagree about A and B?",
        ],
        "One page of the notes writes A as 4096 x 1 and B as 1 x 4096, where dW = A*B multiplies. Another writes A as r x d and B as d x r, where A*B would be r x r, so it has to be B*A there. peft's form is B @ A.",
    ),
    (
        [
            "Which layers does LoRA usually adapt?",
            "Where are LoRA adapters placed in a transformer?",
            "Which target modules does LoRA use?",
            "Can LoRA be applied to the MLP?",
        ],
        "LoRA adapts the attention projections W_q, W_k, W_v, W_o (q_proj, k_proj, v_proj, o_proj), and optionally the MLP (gate_proj, up_proj, down_proj).",
    ),
    (
        [
            "What did the LoRA paper report for GPT-3 175B?",
            "How many fewer trainable parameters does LoRA need on GPT-3?",
            "How much GPU memory does LoRA save on GPT-3?",
            "What are the LoRA paper's headline results?",
        ],
        "On GPT-3 175B, LoRA (Hu et al. 2021) trains 10,000x fewer parameters and uses 3x less GPU memory than full fine-tuning with Adam.",
    ),
    (
        [
            "How big is a LoRA checkpoint compared with a full GPT-3 checkpoint?",
            "How much does LoRA shrink GPT-3's checkpoint?",
            "What checkpoint size does LoRA with r=4 on q and v give for GPT-3?",
        ],
        "The checkpoint goes from 350 GB to 35 MB, with r=4 on q and v.",
    ),
    (
        [
            "How small can the LoRA rank be?",
            "Is a rank of 1 enough for LoRA?",
            "Which rank suffices for W_q and W_v according to the LoRA paper?",
        ],
        "A rank as small as 1-4 often suffices for W_q and W_v, according to the LoRA paper.",
    ),
    (
        [
            "Does LoRA need a higher learning rate than full fine-tuning?",
            "Is LoRA worse than full fine-tuning at large batch sizes?",
            "What claims do the notes make about LoRA's learning rate and batch size?",
        ],
        "The notes claim that LoRA wants a higher learning rate than full fine-tuning and that it does worse at large batch sizes. They are claims, worth testing.",
    ),
    (
        [
            "What does PEFT promise?",
            "Why use parameter-efficient fine-tuning?",
            "What are the benefits of PEFT?",
        ],
        "PEFT promises less compute, less memory, faster training, and performance maintained.",
    ),
    # 5. QLoRA
    (
        [
            "What is QLoRA?",
            "How does QLoRA differ from LoRA?",
            "Explain QLoRA in a few words.",
            "What are the ingredients of QLoRA?",
        ],
        "QLoRA quantizes the frozen pretrained model to 4-bit NF4 with double quantization and keeps the LoRA adapters in 16 or 32 bits. It dequantizes on the fly and pages optimizer states to CPU memory when the GPU runs out.",
    ),
    (
        [
            "What are paged optimizers in QLoRA?",
            "What happens to the optimizer states when the GPU runs out of memory in QLoRA?",
            "Where does QLoRA put optimizer states under memory pressure?",
        ],
        "QLoRA's paged optimizers move the optimizer states to CPU memory when a spike fills the GPU, and page them back for the update. That lowers the peak in a spike; the states stay the same size.",
    ),
    (
        [
            "What GPU did the QLoRA paper use for a 65B model?",
            "How much memory does QLoRA need to fine-tune a 65B model?",
            "What did QLoRA achieve for 65B models?",
            "How much memory would a 65B fine-tune need without QLoRA?",
        ],
        "QLoRA (Dettmers et al. 2023) fine-tuned a 65B model on one 48 GB GPU, down from more than 780 GB.",
    ),
    (
        [
            "What is Guanaco?",
            "How good is Guanaco compared with ChatGPT?",
            "How long did it take to train Guanaco?",
        ],
        "Guanaco, from the QLoRA paper, reaches 99.3% of ChatGPT on the Vicuna benchmark after 24 hours on one GPU.",
    ),
    (
        [
            "Who wrote the LoRA and QLoRA papers, and when?",
            "When was QLoRA published?",
            "When was LoRA published?",
        ],
        "LoRA is by Hu et al., 2021. QLoRA is by Dettmers et al., 2023.",
    ),
    # 6. Where fine-tuning sits
    (
        [
            "What is pretraining?",
            "What data is a foundation model pretrained on?",
            "Is pretraining supervised?",
            "How is a foundation model made?",
        ],
        "Pretraining is self-supervised, on unlabeled web-scale data such as the internet, Stack Overflow and GitHub; the data mixture matters. It produces a foundation model.",
    ),
    (
        [
            "What is supervised fine-tuning?",
            "What is instruction tuning?",
            "How much data does SFT need?",
            "What data does SFT use?",
        ],
        "Supervised fine-tuning (SFT), or instruction tuning, learns from labeled prompt -> response pairs. A few hundred high-quality pairs can change behaviour: quality over quantity.",
    ),
    (
        [
            "What are the challenges of supervised fine-tuning?",
            "What makes SFT hard?",
            "What can go wrong with instruction tuning?",
        ],
        "SFT needs very high-quality data, is sensitive to the prompt distribution, and costs compute.",
    ),
    (
        [
            "What is preference tuning?",
            "What are RLHF and DPO?",
            "What comes after supervised fine-tuning?",
            "How does RLHF work?",
        ],
        "Preference tuning is the third stage: RLHF, with a reward model and PPO, or DPO.",
    ),
    (
        [
            "What are the three stages of training a chat model?",
            "In what order do pretraining, SFT and preference tuning happen?",
            "Where does fine-tuning sit in training an LLM?",
        ],
        "First pretraining (self-supervised), then SFT or instruction tuning (supervised), then preference tuning (RLHF or DPO).",
    ),
    (
        [
            "Why fine-tune a model at all?",
            "When is fine-tuning worth it?",
            "What are good reasons to fine-tune an LLM?",
            "Can fine-tuning teach a model to answer in JSON?",
        ],
        "Fine-tune for complex reasoning, for a specific output format such as JSON, or for a domain or task such as finance or sales Q&A.",
    ),
    (
        [
            "What are the risks of fine-tuning?",
            "What can go wrong after fine-tuning a model?",
            "Does fine-tuning make a model forget?",
        ],
        "The risks are prompt injection, hallucination and forgetting.",
    ),
    # 7. The lab
    (
        [
            "What are the two exercises in the notes?",
            "What is the lab exercise with a BERT model?",
            "What is the QLoRA exercise in the lab?",
            "What does the lab ask me to do?",
        ],
        "(1) LoRA fine-tuning of a BERT-family model. (2) QLoRA fine-tuning of a small chat model on your own data, then loading it and checking whether it works on that data.",
    ),
]


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, heldout) rows: every other fact gives one phrasing to held-out."""
    rng = random.Random(seed)
    train, heldout = [], []
    for index, (questions, answer) in enumerate(FACTS):
        held = rng.randrange(len(questions)) if index % 2 == 0 else None
        for i, question in enumerate(questions):
            (heldout if i == held else train).append({"prompt": question, "response": answer})
    return train, heldout


def write(folder: Path = OUT, seed: int = SEED) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in zip(("train", "heldout"), build(seed), strict=True):
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    train, heldout = build()
    write()
    print(f"Wrote {len(train)} training and {len(heldout)} held-out pairs to {OUT}")
