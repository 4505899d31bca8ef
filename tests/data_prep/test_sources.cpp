// Implements: tests of the raw-layout scanners (data_prep/sources.h), the
// PASCAL XML reader and the image header parser: what they find, and that
// their errors name the file and line at fault.
#include <gtest/gtest.h>

#include <fstream>

#include "image/jpeg.h"
#include "image/png.h"
#include "data_prep/image_header.h"
#include "data_prep/pascal_xml.h"
#include "data_prep/sources.h"
#include "pack_test_util.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::data_prep {
namespace {

using namespace testing_util;  // NOLINT

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(PascalXml, ReadsObjectsNamesAndBoxes) {
  const std::string xml =
      "<?xml version=\"1.0\"?>\n<!-- c -->\n<annotation>\n  <filename>a.jpg</filename>\n"
      "  <object type=\"x>y\">\n    <name> n01 &amp; co </name>\n"
      "    <bndbox><xmin>1</xmin><ymin>2.5</ymin><xmax>30</xmax><ymax>40</ymax></bndbox>\n  </object>\n"
      "  <object><name>b</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>1</xmax><ymax>1</ymax></bndbox>"
      "<part/></object>\n</annotation>\n";
  const auto objects = parse_pascal_objects(xml, "a.xml");
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].name, "n01 & co");
  EXPECT_EQ(objects[0].line, 5);
  EXPECT_FLOAT_EQ(objects[0].box.y0, 2.5f);
  EXPECT_FLOAT_EQ(objects[0].box.x1, 30.f);
  EXPECT_EQ(objects[1].name, "b");
}

TEST(PascalXml, ErrorsNameFileAndLine) {
  auto msg = [](const std::string& xml) {
    return error_of<Error>([&] { parse_pascal_objects(xml, "v.xml"); });
  };
  EXPECT_NE(msg("<a>\n<object>\n<name>x</name>\n</a>").find("v.xml:4: malformed XML: </a> closes <object>"),
            std::string::npos);
  EXPECT_NE(msg("<a>\n\n<object><name>x</name></object></a>").find("v.xml:3: <object> has no <bndbox>"),
            std::string::npos);
  EXPECT_NE(msg("<a><object><name>x</name><bndbox>\n<xmin>1</xmin><ymin>z</ymin><xmax>2</xmax><ymax>2</ymax>"
                "</bndbox></object></a>")
                .find("v.xml:2: <ymin> 'z' is not a number"),
            std::string::npos);
  EXPECT_NE(msg("<a>\n<b>").find("v.xml:2: malformed XML"), std::string::npos);
}

TEST(ImageHeader, ReadsJpegAndPngSizesWithoutDecoding) {
  image::Image img(37, 21, 3);
  const auto jpeg = image::encode_jpeg(img, 90);
  const ImageSize j = read_image_size(jpeg.data(), jpeg.size(), "x.jpg");
  EXPECT_EQ(j.width, 37);
  EXPECT_EQ(j.height, 21);
  const std::string png = image::encode_png(img);
  const ImageSize p = read_image_size(reinterpret_cast<const std::uint8_t*>(png.data()), png.size(), "x.png");
  EXPECT_EQ(p.width, 37);
  EXPECT_EQ(p.height, 21);
  const std::string msg =
      error_of<Error>([&] { read_image_size(jpeg.data(), 20, "cut.jpg"); });  // header cut short
  EXPECT_NE(msg.find("cut.jpg"), std::string::npos) << msg;
}

TEST(Sources, ImagenetValBoxesFromXmlOrCsvAgree) {
  TempDir tmp;
  const std::string src = make_synth("imagenet", tmp.sub("raw"));
  const SourceListing xml = scan_source("imagenet", "val", src);
  fs::remove_all(src + "/val_boxes");
  const SourceListing csv = scan_source("imagenet", "val", src);
  ASSERT_EQ(xml.records.size(), 6u);
  ASSERT_EQ(csv.records.size(), 6u);
  for (size_t i = 0; i < xml.records.size(); ++i) {
    EXPECT_EQ(xml.records[i].name, csv.records[i].name);
    EXPECT_EQ(xml.records[i].label, csv.records[i].label);
    ASSERT_EQ(xml.records[i].boxes.size(), csv.records[i].boxes.size());
    EXPECT_EQ(xml.records[i].boxes[0].x1, csv.records[i].boxes[0].x1);
  }
  fs::remove(src + "/LOC_val_solution.csv");
  EXPECT_NE(error_of<Error>([&] { scan_source("imagenet", "val", src); }).find("LOC_val_solution.csv"),
            std::string::npos);
}

TEST(Sources, ErrorsNameTheFileAndLineAtFault) {
  TempDir tmp;
  const std::string src = make_synth("imagenet", tmp.sub("imagenet"));
  std::string mapping = util::read_file(src + "/LOC_synset_mapping.txt");
  write(src + "/LOC_synset_mapping.txt",
        mapping + mapping.substr(0, mapping.find('\n') + 1));  // repeat line 1
  std::string msg = error_of<Error>([&] { scan_source("imagenet", "train", src); });
  EXPECT_NE(msg.find("LOC_synset_mapping.txt:4: wnid 'n00000001' appears again"), std::string::npos) << msg;
  write(src + "/LOC_synset_mapping.txt", mapping);
  write(src + "/LOC_val_solution.csv",
        "ImageId,PredictionString\nILSVRC2012_val_00000001,n00000009 1 2 3 4 \n");
  fs::remove_all(src + "/val_boxes");
  msg = error_of<Error>([&] { scan_source("imagenet", "val", src); });
  EXPECT_NE(msg.find("LOC_val_solution.csv:2: 'n00000009' is not a wnid"), std::string::npos) << msg;

  const std::string voc = make_synth("voc", tmp.sub("voc"));
  std::ofstream(voc + "/ImageSets/Segmentation/val.txt", std::ios::app) << "2099_000001\n";
  msg = error_of<Error>([&] { scan_source("voc", "val", voc); });
  EXPECT_NE(msg.find("2099_000001.jpg: no such file (listed at"), std::string::npos) << msg;
  EXPECT_NE(msg.find("val.txt:7)"), std::string::npos) << msg;
}

TEST(Sources, VocTrainPrefersTrainAugAndItsMasks) {
  TempDir tmp;
  const std::string voc = make_synth("voc", tmp.sub("voc"));
  SourceListing l = scan_source("voc", "train", voc);
  EXPECT_EQ(l.records.size(), 12u);
  EXPECT_NE(l.records[0].mask_path.find("SegmentationClassAug/"), std::string::npos);
  fs::remove(voc + "/ImageSets/Segmentation/train_aug.txt");
  l = scan_source("voc", "train", voc);
  EXPECT_EQ(l.records.size(), 6u);  // train.txt is the first half
  EXPECT_NE(l.records[0].mask_path.find("SegmentationClass/"), std::string::npos);
  EXPECT_EQ(l.classes.front(), "background");
}

TEST(Sources, FolderLabelsAreFirstLevelSubfolders) {
  TempDir tmp;
  const std::string root = tmp.sub("folder");
  const image::Image img(8, 6, 3);
  const auto jpeg = image::encode_jpeg(img, 90);
  const std::string j(jpeg.begin(), jpeg.end());
  write(root + "/zebra/a.JPG", j);
  write(root + "/ant/deep/b.jpeg", j);
  write(root + "/ant/c.png", image::encode_png(img));
  write(root + "/loose.jpg", j);
  write(root + "/ant/notes.txt", "x");
  write(root + "/.hidden/d.jpg", j);
  fs::create_directories(root + "/empty");
  const SourceListing l = scan_source("folder", "train", root);
  ASSERT_EQ(l.classes, (std::vector<std::string>{"ant", "empty", "zebra"}));
  ASSERT_EQ(l.records.size(), 4u);
  EXPECT_EQ(l.records[0].name, "ant/c.png");
  EXPECT_EQ(l.records[0].label, 0);
  EXPECT_EQ(l.records[1].name, "ant/deep/b.jpeg");
  EXPECT_EQ(l.records[1].label, 0);
  EXPECT_EQ(l.records[2].name, "loose.jpg");
  EXPECT_EQ(l.records[2].label, -1);
  EXPECT_EQ(l.records[3].name, "zebra/a.JPG");
  EXPECT_EQ(l.records[3].label, 2);
}

}  // namespace
}  // namespace c2am::data_prep
