/**
 * Checkpoint I/O: lazy, memory-mapped access to named tensors.
 *
 * <ul>
 *   <li>{@link dev.nextgpt.runtime.io.Checkpoints#open} opens any supported file or folder as a
 *       {@link dev.nextgpt.runtime.io.TensorStore}: {@link dev.nextgpt.runtime.io.SafetensorsFile},
 *       {@link dev.nextgpt.runtime.io.TorchCheckpointFile} ({@code torch.save} zip and legacy formats, read with a
 *       restricted unpickler that refuses every global but tensors and plain containers),
 *       {@link dev.nextgpt.runtime.io.ShardedTensorStore} ({@code *.index.json}).</li>
 *   <li>{@link dev.nextgpt.runtime.io.TensorStores}: prefix views ({@code "model."} sub-trees) and merged stores
 *       (base model + delta).</li>
 *   <li>{@link dev.nextgpt.runtime.io.CheckpointInspector} describes a checkpoint from its headers only;
 *       {@link dev.nextgpt.runtime.io.CheckpointConverter} streams any checkpoint into one safetensors file.</li>
 * </ul>
 * Every malformed, truncated or hostile input fails with {@link dev.nextgpt.ModelFormatException} naming the file and
 * what was wrong.
 */
package dev.nextgpt.runtime.io;
