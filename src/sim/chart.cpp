// The chart of `natgw simulate --chart`: plain SVG text. Top panel: ports taken per public IP
// (live + hold-down) and the busiest destination's live connections, against the 50,000
// connections and 64,512 ports limits. Bottom panel: failed SNAT connections per sample
// interval, with the first failure marked across both.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "sim/report.hpp"

namespace natgw::sim {
namespace {

constexpr double kWidth = 1100, kHeight = 660;
constexpr double kLeft = 80, kRight = 760;  // plot area; the legend sits right of it
constexpr double kTop = 100, kMid = 430;    // top panel
constexpr double kLowTop = 480, kLowBottom = 600;
constexpr std::array<const char*, 16> kPalette = {
    "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
    "#aec7e8", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5", "#dbdb8d", "#393b79"};

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

double nice_step(double range, int target) {
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (raw <= m * mag) return m * mag;
  }
  return 10 * mag;
}

std::string count_text(double v) {
  if (v >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

struct Line {
  std::string label;
  std::string colour;
  double width = 1.5;
  std::string dash;                               // stroke-dasharray, empty for solid
  std::vector<std::pair<double, double>> points;  // (minutes, value)
};

class Svg {
 public:
  Svg(double x_max, double y_max, double f_max)
      : x_max_(x_max), y_max_(y_max), f_max_(std::max(f_max, 1.0)) {
    out_ = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
        "{1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
        kWidth, kHeight);
  }
  double x(double minutes) const { return kLeft + (kRight - kLeft) * minutes / x_max_; }
  double y(double v) const { return kMid - (kMid - kTop) * v / y_max_; }
  double fy(double v) const { return kLowBottom - (kLowBottom - kLowTop) * v / f_max_; }

  void text(double px, double py, std::string_view s, std::string_view extra = "") {
    out_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" {}>{}</text>\n", px, py, extra, esc(s));
  }
  void line(double x1, double y1, double x2, double y2, std::string_view colour, double w,
            std::string_view dash = "") {
    out_ += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"{}\"{}/>\n",
        x1, y1, x2, y2, colour, w,
        dash.empty() ? std::string{} : fmt::format(" stroke-dasharray=\"{}\"", dash));
  }
  void rect(double x1, double y1, double w, double h, std::string_view fill) {
    out_ += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n", x1,
        y1, std::max(w, 0.5), h, fill);
  }
  void polyline(const Line& l) {
    std::string pts;
    for (const auto& [m, v] : l.points) pts += fmt::format("{:.1f},{:.1f} ", x(m), y(v));
    out_ += fmt::format(
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{} "
        "points=\"{}\"><title>{}</title>"
        "</polyline>\n",
        l.colour, l.width,
        l.dash.empty() ? std::string{} : fmt::format(" stroke-dasharray=\"{}\"", l.dash), pts,
        esc(l.label));
  }
  void raw(std::string_view s) { out_ += s; }
  std::string finish() { return out_ + "</svg>\n"; }

  double x_max_, y_max_, f_max_;

 private:
  std::string out_;
};

}  // namespace

std::string chart_svg(const std::vector<const Report*>& reports) {
  const bool compare = reports.size() > 1;
  double x_max = 0;
  double y_data = 0;
  double f_max = 0;
  std::vector<Line> lines;
  struct Bars {
    std::string colour;
    std::vector<std::array<double, 3>> bars;  // from, to (minutes), failures
  };
  std::vector<Bars> bars;
  struct Marker {
    double at;
    std::string label;
    std::string colour;
  };
  std::vector<Marker> markers;
  const std::array<const char*, 2> run_colour = {"#1f77b4", "#2ca02c"};
  const std::array<const char*, 2> fail_colour = {"#d62728", "#9467bd"};
  for (std::size_t ri = 0; ri < reports.size(); ++ri) {
    const RunResult& r = reports[ri]->plan.run;
    const std::string prefix = compare ? fmt::format("{}: ", ri == 0 ? "A" : "B") : "";
    x_max = std::max(x_max, static_cast<double>(reports[ri]->workload.duration.count()) / 60e9);
    const std::size_t n_ip = r.public_ips.size();
    std::vector<Line> ip_lines;
    Line top{prefix + "ports taken, busiest IP (live+held)",
             run_colour[ri],
             2,
             compare && ri ? "6,4" : "",
             {}};
    for (std::size_t i = 0; i < n_ip; ++i) {
      ip_lines.push_back(
          Line{fmt::format("ports taken on {} (live+held)", r.public_ips[i].text().view()),
               kPalette[i % kPalette.size()],
               1.5,
               "",
               {{0, 0}}});
    }
    Line busiest{prefix + "busiest destination: connections",
                 compare ? run_colour[ri] : "#000000",
                 compare ? 1.2 : 2.5,
                 compare ? "2,3" : "",
                 {{0, 0}}};
    Line busiest_taken{
        prefix + "busiest destination: ports taken", "#555555", 1.2, "6,3", {{0, 0}}};
    top.points.push_back({0, 0});
    Bars b{fail_colour[ri], {}};
    double prev_t = 0;
    std::uint64_t prev_failed = 0;
    for (const auto& s : r.samples) {
      const double t = static_cast<double>(s.at.count()) / 60e9;
      double best = 0;
      for (std::size_t i = 0; i < n_ip; ++i) {
        const double v = static_cast<double>(s.ports_live[i]) + s.ports_holddown[i];
        ip_lines[i].points.push_back({t, v});
        best = std::max(best, v);
      }
      top.points.push_back({t, best});
      const double live = s.busiest ? s.busiest->live : 0;
      busiest.points.push_back({t, live});
      busiest_taken.points.push_back({t, s.busiest ? live + s.busiest->holddown : 0});
      y_data = std::max({y_data, best, live});
      const std::uint64_t failed = s.counters.conn(nat::L4::tcp, nat::ConnState::failed) +
                                   s.counters.conn(nat::L4::udp, nat::ConnState::failed);
      if (failed > prev_failed) {
        const auto n = static_cast<double>(failed - prev_failed);
        b.bars.push_back({prev_t, t, n});
        f_max = std::max(f_max, n);
      }
      prev_failed = failed;
      prev_t = t;
    }
    if (compare) {
      lines.push_back(std::move(top));
      lines.push_back(std::move(busiest));
    } else {
      for (auto& l : ip_lines) lines.push_back(std::move(l));
      lines.push_back(std::move(busiest_taken));
      lines.push_back(std::move(busiest));
    }
    bars.push_back(std::move(b));
    if (r.first_failure) {
      markers.push_back(
          {static_cast<double>(r.first_failure->at.count()) / 60e9,
           fmt::format("{}first failure {} {}", prefix, clock_text(r.first_failure->at),
                       nat::name(r.first_failure->reason)),
           fail_colour[ri]});
    }
  }
  x_max = std::max(x_max, 1.0 / 60);
  const double y_max = std::max(y_data * 1.08, 70'000.0);
  Svg svg(x_max, y_max, f_max);

  // Title.
  std::string title;
  if (compare) {
    title = fmt::format("A: {} vs B: {}", reports[0]->workload.name, reports[1]->workload.name);
  } else {
    const auto& r = reports[0]->plan.run;
    title = fmt::format("{}: {} public IP{}", reports[0]->workload.name, r.public_ips.size(),
                        r.public_ips.size() == 1 ? "" : "s");
  }
  svg.text(kLeft, 28, "natgw simulate — " + title, "font-size=\"16\" font-weight=\"bold\"");
  svg.text(kLeft, 48,
           "ports taken per public IP and connections to the busiest destination; "
           "failed SNAT connections below",
           "fill=\"#444\"");

  // Axes and grid.
  const double ys = nice_step(y_max, 6);
  for (double v = 0; v <= y_max; v += ys) {
    svg.line(kLeft, svg.y(v), kRight, svg.y(v), "#e5e5e5", 1);
    svg.text(kLeft - 6, svg.y(v) + 4, count_text(v), "text-anchor=\"end\"");
  }
  const double xs = nice_step(x_max, 10);
  for (double m = 0; m <= x_max + 1e-9; m += xs) {
    svg.line(svg.x(m), kTop, svg.x(m), kMid, "#f0f0f0", 1);
    svg.line(svg.x(m), kLowTop, svg.x(m), kLowBottom, "#f0f0f0", 1);
    svg.text(svg.x(m), kLowBottom + 16, fmt::format("{:g}", m), "text-anchor=\"middle\"");
  }
  svg.text((kLeft + kRight) / 2, kLowBottom + 36, "simulated time (minutes)",
           "text-anchor=\"middle\"");
  svg.text(
      18, (kTop + kMid) / 2, "ports / connections",
      fmt::format("text-anchor=\"middle\" transform=\"rotate(-90 18 {:.1f})\"", (kTop + kMid) / 2));
  svg.line(kLeft, kTop, kLeft, kMid, "#000", 1);
  svg.line(kLeft, kMid, kRight, kMid, "#000", 1);

  // Limits.
  svg.line(kLeft, svg.y(64'512), kRight, svg.y(64'512), "#ff7f0e", 1.5, "8,4");
  svg.text(kRight - 4, svg.y(64'512) - 4, "64,512 ports per IP per destination",
           "fill=\"#ff7f0e\" text-anchor=\"end\"");
  svg.line(kLeft, svg.y(50'000), kRight, svg.y(50'000), "#d62728", 1.5, "8,4");
  svg.text(kRight - 4, svg.y(50'000) - 4, "50,000 connections per IP per destination",
           "fill=\"#d62728\" text-anchor=\"end\"");

  for (const auto& l : lines) svg.polyline(l);

  // Failures panel.
  svg.line(kLeft, kLowTop, kLeft, kLowBottom, "#000", 1);
  svg.line(kLeft, kLowBottom, kRight, kLowBottom, "#000", 1);
  const double fs = f_max == 0 ? 1 : nice_step(svg.f_max_, 3);
  for (double v = 0; v <= (f_max == 0 ? 0 : svg.f_max_ + 1e-9); v += fs) {
    svg.text(kLeft - 6, svg.fy(v) + 4, count_text(v), "text-anchor=\"end\"");
    svg.line(kLeft, svg.fy(v), kRight, svg.fy(v), "#e5e5e5", 1);
  }
  svg.text(18, (kLowTop + kLowBottom) / 2, "failed",
           fmt::format("text-anchor=\"middle\" transform=\"rotate(-90 18 {:.1f})\"",
                       (kLowTop + kLowBottom) / 2));
  const auto& r0 = reports[0]->plan.run;
  svg.text(kLeft, kLowTop - 8,
           fmt::format("failed SNAT connections per {}", format_duration(r0.sample_interval)),
           "fill=\"#444\"");
  if (f_max == 0) svg.text(kLeft + 8, kLowBottom - 10, "no failures", "fill=\"#2ca02c\"");
  for (std::size_t bi = 0; bi < bars.size(); ++bi) {
    for (const auto& [from, to, n] : bars[bi].bars) {
      double x1 = svg.x(from);
      double w = svg.x(to) - x1;
      if (compare) {
        w /= 2;
        x1 += static_cast<double>(bi) * w;
      }
      svg.rect(x1, svg.fy(n), w, kLowBottom - svg.fy(n), bars[bi].colour);
    }
  }
  // First failures: a dotted line across both panels, labelled above the plot.
  double label_y = 70;
  for (const auto& m : markers) {
    const double mx = svg.x(m.at);
    svg.line(mx, label_y + 4, mx, kLowBottom, m.colour, 1.2, "3,3");
    const bool right = mx > kRight - 260;
    svg.text(right ? mx - 4 : mx + 4, label_y, m.label,
             fmt::format("fill=\"{}\"{}", m.colour, right ? " text-anchor=\"end\"" : ""));
    label_y += 15;
  }

  // Legend.
  double ly = kTop;
  const double lx = kRight + 20;
  svg.text(lx, ly, "legend", "font-weight=\"bold\"");
  ly += 18;
  for (const auto& l : lines) {
    svg.line(lx, ly - 4, lx + 24, ly - 4, l.colour, l.width, l.dash);
    svg.text(lx + 30, ly, l.label, "font-size=\"11\"");
    ly += 17;
  }
  for (std::size_t bi = 0; bi < bars.size(); ++bi) {
    svg.rect(lx, ly - 10, 24, 9, bars[bi].colour);
    svg.text(lx + 30, ly,
             fmt::format("{}failed SNAT connections", compare ? (bi == 0 ? "A: " : "B: ") : ""),
             "font-size=\"11\"");
    ly += 17;
  }
  return svg.finish();
}

}  // namespace natgw::sim
