// Package safetensors reads and writes the .safetensors tensor format, the
// torch.save-free interchange format of the PyTorch ecosystem (Hugging Face
// safetensors), and loads and saves disiam modules by parameter name.
//
// # Format
//
// A file is an 8-byte little-endian header length N, N bytes of JSON, and
// the data section. The JSON maps each tensor name to
// {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [begin, end]},
// offsets relative to the start of the data section; the optional key
// "__metadata__" maps strings to strings. Tensor data is row-major
// (PyTorch's contiguous layout) and little-endian.
//
// Parse validates everything a corrupt or hostile file can get wrong and
// reports it as an error that says what is wrong: a header longer than
// MaxHeaderSize or than the file, JSON that is not one object, duplicate
// keys, unknown fields or dtypes, negative dimensions, a shape whose size
// overflows, a byte range whose size disagrees with dtype and shape, ranges
// outside the data, overlapping ranges, gaps or unindexed bytes (the data
// section must be covered exactly, as the reference implementation
// requires), and a data checksum that does not match. Tensor data is never
// allocated from header sizes: tensors are slices of the bytes actually
// read, whose sizes are checked against the header.
//
// # Element types
//
// F32, F64 and I64 are the types of float32/float64 PyTorch state dicts
// (I64 for BatchNorm's num_batches_tracked). F16 and BF16 tensors, common in
// published checkpoints, convert to float32 on load; other integer types
// convert to int64. Tensor.Float32s, Float64s and Int64s do the
// conversions.
//
// # Files
//
// File holds tensors in order, by name. Tensors read by Parse share the
// parsed buffer; Set keeps the slices it is given. WriteTo writes the
// tensors in File order with the header padded to a multiple of 8 bytes.
// WriteFile is atomic: it writes a temporary file next to the target,
// syncs it, renames it into place and syncs the directory (on Unix), so a
// crash, a power loss or a full disk never leaves a truncated checkpoint
// behind, and a checkpoint WriteFile reported written stays written. A
// process killed in the middle of a write leaves its temporary file
// (.NAME.tmp-DIGITS) behind; CleanTemp removes those of a target, and
// WriteFile calls it before each write, so they do not pile up in a
// checkpoint directory.
//
// # Integrity
//
// Every file written by this package carries the SHA-256 of its data
// section in its metadata, under ChecksumKey ("disiam.sha256"), and Parse
// (hence Read and ReadFile) verifies it when present: a bit flipped on disk
// or in a copy is reported as a checksum mismatch naming the file, instead
// of silently loading wrong weights. Files from PyTorch or other tools,
// without the key, load as before; the key is ordinary string metadata to
// them. Parse removes the key from File.Metadata after checking it, so
// Metadata holds what the writer's caller put there.
//
// # Modules
//
// Every nn.Module parameter carries its PyTorch state_dict key as its name
// (backbone.ResNet's are torchvision's), so StateDict and SaveModule write
// files that torch's load_state_dict(strict=True) accepts, and File.Load
// and LoadModule read files that PyTorch wrote: a torchvision model's
// state_dict written with the Python safetensors package (or the
// repository's backbone/testdata/export_safetensors.py, which needs only
// torch and numpy) loads into the disiam backbone of the same name.
// Loading copies into the parameters' existing arrays, so graphs built
// before the load see the new values. Load is strict by default and
// reports every missing, unexpected and mis-shaped tensor at once, in a
// *MismatchError, before changing anything; LoadOptions relaxes it and can
// strip a key prefix ("backbone.", "module."). The one shape difference
// between the two worlds is handled on both sides: num_batches_tracked is a
// one-element [1] buffer in disiam and a scalar [] in PyTorch.
package safetensors
