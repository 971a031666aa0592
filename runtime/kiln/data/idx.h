// IDX files (the MNIST format), plain or gzip-compressed, and the four-file MNIST directory layout.
#pragma once
#include <string>

#include "kiln/tensor.h"

namespace kiln::data {

/// Reads an IDX file (http://yann.lecun.com/exdb/mnist/): a 4-byte magic `0x00 0x00 TYPE NDIMS`,
/// NDIMS big-endian uint32 dimensions, then the row-major big-endian payload. A file starting with
/// the gzip magic (1f 8b) is decompressed first, so `train-images-idx3-ubyte.gz` reads as is.
///
/// Kiln has no uint8 dtype (Note [IDX element types] in idx.cc), so the element type maps to:
/// 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32 -> int32 (exact);
/// 0x0D float32 -> float32; 0x0E float64 -> float64. The tensor's shape is the file's dimensions.
///
/// Throws kiln::Error naming the file and the numbers for: a file that cannot be opened, a bad
/// magic, an unknown type code, zero dimensions (rank 0 or a dimension of 0), more dimensions than
/// Kiln's maximum rank, an element count that overflows, a header shorter than it says, a payload
/// shorter or longer than the product of the dimensions, and corrupt or truncated gzip data.
Tensor read_idx(const std::string& path);

/// MNIST (or Fashion-MNIST, same layout) loaded from one directory.
struct MnistData {
  Tensor train_images;  ///< float32 [60000, 28, 28, 1] for MNIST, pixel / 255 in [0, 1]
  Tensor train_labels;  ///< int32 [60000]
  Tensor test_images;   ///< float32 [10000, 28, 28, 1]
  Tensor test_labels;   ///< int32 [10000]
};

/// Loads `dir`/{train,t10k}-{images-idx3,labels-idx1}-ubyte, each with or without `.gz` (the
/// plain name wins when both exist). Images become float32 [N, rows, cols, 1] scaled to [0, 1],
/// labels int32 [N]. Throws kiln::Error naming the missing file and `dir`, an image file that is
/// not unsigned-byte [N, rows, cols], a label file that is not unsigned-byte [N], and image and
/// label counts that differ.
MnistData load_mnist(const std::string& dir);

/// One split of load_mnist: `prefix` is "train" or "t10k"; returns {images, labels}.
std::pair<Tensor, Tensor> load_mnist_split(const std::string& dir, const std::string& prefix);

}  // namespace kiln::data
