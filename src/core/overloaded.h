// Overloaded: a visitor made of lambdas, for std::visit over the variants of core/flow.h.
#pragma once

namespace bluegreen {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

}  // namespace bluegreen
