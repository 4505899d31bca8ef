// Implements: pictures for people: a score map blended over its image with a
// JET-like colour map, box outlines, and a contact sheet of many tiles. Writing
// them to PNG is the caller's business (image::write_png).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/boxes.h"
#include "image/image.h"

namespace c2am::eval {

// JET-like colour of v in [0, 1] (clamped): blue -> cyan -> yellow -> red.
std::array<std::uint8_t, 3> jet_colour(float v);

// The map (values in [0, 1], any size) upsampled bilinearly to the image
// (pixel centres aligned, as cv2.resize), coloured with jet_colour and blended:
// out = (1 - alpha) * image + alpha * colour. `rgb` has 1 or 3 channels; the
// result has 3.
image::Image overlay_heatmap(const image::Image& rgb, const MapView& map, double alpha = 0.5);

// Outline of `box` (x1, y1 exclusive, as the boxes of boxes.h), `thickness`
// pixels drawn inward, clipped to the image. Needs a 3-channel image.
void draw_box(image::Image& image, const image::Box& box, std::array<std::uint8_t, 3> colour,
              int thickness = 2);

// Tiles resized bilinearly to tile_side x tile_side, laid out row by row in
// `columns` columns (fewer when there are fewer tiles) with 4 px of white
// padding around and between them; 1-channel tiles become grey RGB.
image::Image contact_sheet(const std::vector<image::Image>& tiles, int columns, int tile_side);

// Writes each picture as OUT/heatmaps/NNNN.png and all of them as the contact
// sheet OUT/heatmaps.png (8 columns, tiles of max(96, side) px); returns the
// files written, the sheet last.
std::vector<std::string> write_pictures(const std::vector<image::Image>& pictures, int side,
                                        const std::string& out_dir);

}  // namespace c2am::eval
