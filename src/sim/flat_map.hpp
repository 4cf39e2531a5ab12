// A small open-addressing hash map from 64-bit keys to 32-bit values (linear probing, deletion by
// backward shift, so no tombstones). The simulator keeps its client sockets and connection
// pools in these: tens of millions of lookups, no allocation per entry.
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace natgw::sim {

class FlatMap {
 public:
  static constexpr std::uint32_t kAbsent = 0xFFFFFFFFu;

  explicit FlatMap(std::size_t capacity = 1024) {
    rehash(std::bit_ceil(capacity < 16 ? 16 : capacity));
  }

  [[nodiscard]] std::uint32_t find(std::uint64_t key) const noexcept {
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      const Cell& c = cells_[i];
      if (c.value == kAbsent) return kAbsent;
      if (c.key == key) return c.value;
    }
  }
  [[nodiscard]] bool contains(std::uint64_t key) const noexcept { return find(key) != kAbsent; }

  // Inserts or overwrites; `value` must not be kAbsent.
  void put(std::uint64_t key, std::uint32_t value) {
    if ((size_ + 1) * 4 > cells_.size() * 3) rehash(cells_.size() * 2);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      Cell& c = cells_[i];
      if (c.value == kAbsent) {
        c = {key, value};
        ++size_;
        return;
      }
      if (c.key == key) {
        c.value = value;
        return;
      }
    }
  }

  void erase(std::uint64_t key) noexcept {
    std::size_t i = slot(key);
    for (;; i = (i + 1) & mask_) {
      if (cells_[i].value == kAbsent) return;
      if (cells_[i].key == key) break;
    }
    // Backward shift: move later entries of the run into the hole when their home allows it.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask_; cells_[j].value != kAbsent; j = (j + 1) & mask_) {
      const std::size_t home = slot(cells_[j].key);
      const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        cells_[hole] = cells_[j];
        hole = j;
      }
    }
    cells_[hole].value = kAbsent;
    --size_;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct Cell {
    std::uint64_t key = 0;
    std::uint32_t value = kAbsent;
  };

  [[nodiscard]] std::size_t slot(std::uint64_t key) const noexcept {
    std::uint64_t h = key * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return static_cast<std::size_t>(h) & mask_;
  }

  void rehash(std::size_t n) {
    std::vector<Cell> old = std::move(cells_);
    cells_.assign(n, Cell{});
    mask_ = n - 1;
    size_ = 0;
    for (const auto& c : old) {
      if (c.value != kAbsent) put(c.key, c.value);
    }
  }

  std::vector<Cell> cells_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace natgw::sim
