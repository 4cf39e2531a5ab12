// Ipv4, Prefix and the small value types of src/net/types.hpp.
#include "net/types.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace natgw::net {
namespace {

// Compile-time use is part of the contract (config defaults are constexpr).
static_assert(Ipv4::parse("10.0.0.1")->value() == 0x0A000001u);
static_assert(!Ipv4::parse("10.0.0.256"));
static_assert(Prefix::parse("10.0.0.0/8")->length() == 8);
static_assert(Prefix::parse("10.0.0.0/8")->is_private());

TEST(Ipv4, ConstructorsAgree) {
  EXPECT_EQ(Ipv4(192, 168, 1, 254).value(), 0xC0A801FEu);
  EXPECT_EQ(Ipv4(192, 168, 1, 254), Ipv4{0xC0A801FEu});
  EXPECT_EQ(Ipv4{}.value(), 0u);
  EXPECT_LT(Ipv4(10, 0, 0, 1), Ipv4(10, 0, 0, 2));
  EXPECT_LT(Ipv4(9, 255, 255, 255), Ipv4(10, 0, 0, 0));
}

TEST(Ipv4, ParsesDottedQuads) {
  struct Case {
    std::string_view text;
    std::uint32_t value;
  };
  const Case cases[] = {
      {"0.0.0.0", 0x00000000u},   {"255.255.255.255", 0xFFFFFFFFu}, {"10.0.0.1", 0x0A000001u},
      {"1.2.3.4", 0x01020304u},   {"203.0.113.10", 0xCB00710Au},    {"100.64.0.0", 0x64400000u},
      {"127.0.0.1", 0x7F000001u}, {"9.99.199.249", 0x0963C7F9u},
  };
  for (const auto& c : cases) {
    const auto a = Ipv4::parse(c.text);
    ASSERT_TRUE(a.has_value()) << c.text;
    EXPECT_EQ(a->value(), c.value) << c.text;
  }
}

TEST(Ipv4, RejectsEverythingElse) {
  const std::string_view bad[] = {
      "",          // empty
      " 1.2.3.4",  // leading junk
      "x1.2.3.4",   "+1.2.3.4",   "-1.2.3.4",
      "1.2.3.4 ",  // trailing junk
      "1.2.3.4x",   "1.2.3.4/32",
      "1.2.3.4.",   // trailing dot
      "1.2.3.4.5",  // five parts
      "1.2.3",      // missing octets
      "1.2.3.",     "1.2",        "1",
      ".1.2.3",  // empty first part
      "1..3.4",  // empty part
      "...",
      "256.0.0.0",  // octet > 255
      "1.2.3.256",  "1.2.3.999",  "1000.0.0.0",
      "0001.0.0.0",  // more than three digits
      "4294967295",  // a number, not a quad
      "a.b.c.d",    "1,2,3,4",    "1.2.3.-4",   "1.2.3.+4", "1.2.3.4\n", "\t1.2.3.4",
      "１.2.3.4",  // non-ASCII digit
  };
  for (auto s : bad) EXPECT_FALSE(Ipv4::parse(s).has_value()) << '"' << s << '"';
}

TEST(Ipv4, ParseStopsAtTheViewEnd) {
  // The bytes after the view must not be read: "1.2.3.45" viewed as 7 characters is 1.2.3.4.
  const std::string s = "1.2.3.45";
  EXPECT_EQ(Ipv4::parse(std::string_view(s).substr(0, 7)), Ipv4(1, 2, 3, 4));
  EXPECT_FALSE(Ipv4::parse(std::string_view(s).substr(0, 6)).has_value());  // "1.2.3."
  EXPECT_FALSE(Ipv4::parse(std::string_view(s.data(), 0)).has_value());
}

TEST(Ipv4, TextIsCanonical) {
  EXPECT_EQ(Ipv4{}.text().view(), "0.0.0.0");
  EXPECT_EQ(Ipv4{0xFFFFFFFFu}.text().view(), "255.255.255.255");
  EXPECT_EQ(Ipv4(10, 0, 0, 1).text().view(), "10.0.0.1");
  EXPECT_EQ(Ipv4(203, 0, 113, 10).text().view(), "203.0.113.10");
  EXPECT_EQ(Ipv4(1, 20, 100, 0).text().view(), "1.20.100.0");
}

TEST(Ipv4, TextAndParseRoundTrip) {
  std::mt19937 rng(20240501);
  for (int i = 0; i < 20000; ++i) {
    const Ipv4 a{static_cast<std::uint32_t>(rng())};
    const auto t = a.text();
    ASSERT_LE(t.len, 15);
    const auto back = Ipv4::parse(t.view());
    ASSERT_TRUE(back.has_value()) << t.view();
    ASSERT_EQ(*back, a) << t.view();
  }
}

TEST(Prefix, ParsesPrefixes) {
  const auto p = Prefix::parse("10.0.0.0/8");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->address(), Ipv4(10, 0, 0, 0));
  EXPECT_EQ(p->length(), 8);
  EXPECT_EQ(p->mask(), 0xFF000000u);
  EXPECT_EQ(p->size(), 1u << 24);

  const auto q = Prefix::parse("203.0.113.16/28");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->address(), Ipv4(203, 0, 113, 16));
  EXPECT_EQ(q->mask(), 0xFFFFFFF0u);
  EXPECT_EQ(q->size(), 16u);

  const auto q31 = Prefix::parse("203.0.113.2/31");
  ASSERT_TRUE(q31.has_value());
  EXPECT_EQ(q31->size(), 2u);
}

TEST(Prefix, ZeroLengthIsEverything) {
  const auto p = Prefix::parse("0.0.0.0/0");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->length(), 0);
  EXPECT_EQ(p->mask(), 0u);
  EXPECT_EQ(p->size(), std::uint64_t{1} << 32);
  EXPECT_TRUE(p->contains(Ipv4{0u}));
  EXPECT_TRUE(p->contains(Ipv4{0xFFFFFFFFu}));
  EXPECT_TRUE(p->contains(Ipv4(10, 0, 0, 1)));
}

TEST(Prefix, HostRoutes) {
  const auto p = Prefix::parse("1.2.3.4/32");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->length(), 32);
  EXPECT_EQ(p->mask(), 0xFFFFFFFFu);
  EXPECT_EQ(p->size(), 1u);
  EXPECT_TRUE(p->contains(Ipv4(1, 2, 3, 4)));
  EXPECT_FALSE(p->contains(Ipv4(1, 2, 3, 5)));
  EXPECT_FALSE(p->contains(Ipv4(1, 2, 3, 3)));
  // A bare address is a /32.
  EXPECT_EQ(Prefix::parse("1.2.3.4"), p);
  EXPECT_EQ(Prefix::parse("255.255.255.255")->length(), 32);
}

TEST(Prefix, RejectsHostBits) {
  const std::string_view bad[] = {"10.0.0.1/24", "10.0.0.128/24", "10.0.1.0/23", "11.0.0.0/7",
                                  "0.0.0.1/0",   "128.0.0.0/0",   "10.0.0.1/31", "172.16.0.0/11"};
  for (auto s : bad) EXPECT_FALSE(Prefix::parse(s).has_value()) << s;
  EXPECT_TRUE(Prefix::parse("10.0.0.0/31").has_value());
  EXPECT_TRUE(Prefix::parse("192.168.0.0/15").has_value());
  EXPECT_TRUE(Prefix::parse("10.0.0.1/32").has_value());
}

TEST(Prefix, RejectsBadLengths) {
  const std::string_view bad[] = {"10.0.0.0/",   "10.0.0.0/33",  "10.0.0.0/99", "10.0.0.0/100",
                                  "10.0.0.0/-1", "10.0.0.0/+8",  "10.0.0.0/ 8", "10.0.0.0/8 ",
                                  "10.0.0.0/8/", "10.0.0.0/8/8", "10.0.0.0/a",  "10.0.0.0/8a",
                                  "10.0.0.0//8", "/8",           "/",           "",
                                  "10.0.0/8",    "10.0.0.0./8",  " 10.0.0.0/8", "10.0.0.256/32"};
  for (auto s : bad) EXPECT_FALSE(Prefix::parse(s).has_value()) << '"' << s << '"';
}

TEST(Prefix, ConstructorClearsHostBits) {
  const Prefix p{Ipv4(10, 1, 2, 3), 8};
  EXPECT_EQ(p.address(), Ipv4(10, 0, 0, 0));
  EXPECT_EQ(p, Prefix::parse("10.0.0.0/8"));
  EXPECT_EQ(Prefix(Ipv4{0xFFFFFFFFu}, 0).address(), Ipv4{});
}

TEST(Prefix, Contains) {
  const Prefix p = *Prefix::parse("10.0.0.0/24");
  EXPECT_TRUE(p.contains(Ipv4(10, 0, 0, 0)));
  EXPECT_TRUE(p.contains(Ipv4(10, 0, 0, 255)));
  EXPECT_FALSE(p.contains(Ipv4(10, 0, 1, 0)));
  EXPECT_FALSE(p.contains(Ipv4(9, 255, 255, 255)));
  EXPECT_FALSE(p.contains(Ipv4(138, 0, 0, 1)));  // differs in the top bit only
  const Prefix q = *Prefix::parse("172.16.0.0/12");
  EXPECT_TRUE(q.contains(Ipv4(172, 31, 255, 255)));
  EXPECT_FALSE(q.contains(Ipv4(172, 32, 0, 0)));
  EXPECT_FALSE(q.contains(Ipv4(172, 15, 255, 255)));
}

TEST(Prefix, Overlaps) {
  const auto P = [](std::string_view s) { return *Prefix::parse(s); };
  struct Case {
    std::string_view a, b;
    bool overlap;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.1.0.0/16", true},     {"10.0.0.0/24", "10.0.1.0/24", false},
      {"10.0.0.0/24", "10.0.0.0/24", true},    {"10.0.0.0/25", "10.0.0.128/25", false},
      {"10.0.0.0/23", "10.0.1.128/25", true},  {"0.0.0.0/0", "203.0.113.10/32", true},
      {"10.0.0.5/32", "10.0.0.5/32", true},    {"10.0.0.5/32", "10.0.0.6/32", false},
      {"192.168.0.0/16", "10.0.0.0/8", false}, {"172.16.0.0/12", "172.20.4.0/22", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(P(c.a).overlaps(P(c.b)), c.overlap) << c.a << " " << c.b;
    EXPECT_EQ(P(c.b).overlaps(P(c.a)), c.overlap) << c.b << " " << c.a;
  }
}

TEST(Prefix, IsPrivate) {
  struct Case {
    std::string_view p;
    bool priv;
  };
  const Case cases[] = {
      {"10.0.0.0/8", true},      {"10.0.0.0/24", true},      {"10.255.255.255/32", true},
      {"10.0.0.0/7", false},     {"11.0.0.0/8", false},      {"9.0.0.0/8", false},
      {"172.16.0.0/12", true},   {"172.31.255.0/24", true},  {"172.16.0.0/11", false},
      {"172.32.0.0/16", false},  {"172.15.0.0/16", false},   {"192.168.0.0/16", true},
      {"192.168.10.0/24", true}, {"192.168.0.0/15", false},  {"192.169.0.0/16", false},
      {"100.64.0.0/10", true},   {"100.127.255.0/24", true}, {"100.128.0.0/10", false},
      {"100.0.0.0/10", false},   {"100.0.0.0/8", false},     {"0.0.0.0/0", false},
      {"203.0.113.0/24", false}, {"8.8.8.8/32", false},      {"127.0.0.0/8", false},
  };
  for (const auto& c : cases) {
    // 172.16.0.0/11 and 192.168.0.0/15 have host bits set in their text; build them directly.
    const auto slash = c.p.find('/');
    const auto addr = Ipv4::parse(c.p.substr(0, slash));
    ASSERT_TRUE(addr.has_value()) << c.p;
    int len = 0;
    for (char ch : c.p.substr(slash + 1)) len = len * 10 + (ch - '0');
    const Prefix p{*addr, static_cast<std::uint8_t>(len)};
    EXPECT_EQ(p.is_private(), c.priv) << c.p;
  }
}

TEST(ValueTypes, ProtocolNamesAndTuples) {
  EXPECT_EQ(name(Proto::tcp), "tcp");
  EXPECT_EQ(name(Proto::udp), "udp");
  EXPECT_EQ(name(Proto::icmp), "icmp");
  EXPECT_EQ(name(static_cast<Proto>(47)), "other");
  EXPECT_EQ(static_cast<int>(Proto::tcp), 6);
  EXPECT_EQ(static_cast<int>(Proto::udp), 17);
  EXPECT_EQ(static_cast<int>(Proto::icmp), 1);

  const FiveTuple a{Proto::tcp, {Ipv4(10, 0, 0, 5), 40000}, {Ipv4(198, 51, 100, 7), 443}};
  FiveTuple b = a;
  EXPECT_EQ(a, b);
  b.dst.port = 444;
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
  b = a;
  b.proto = Proto::udp;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace natgw::net
