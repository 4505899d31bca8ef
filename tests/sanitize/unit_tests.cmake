# Implements: which unit tests run under ASan + UBSan (CTest label sanitize):
# every test file of the torch-free modules, one binary per module, paths
# relative to tests/. Read by tests/sanitize/CMakeLists.txt (the CTest tests)
# and tests/sanitize/unit_tests/CMakeLists.txt (the clang project building
# them). A test file that includes <torch/torch.h>, or code that does, cannot
# be here (docs/reliability.md).
set(C2AM_SANITIZED_MODULES util config image data cams synth data_prep eval monitor wsss)
set(C2AM_SANITIZED_TESTS_util util/test_half.cpp util/test_pickle.cpp util/test_torch_storage.cpp)
set(C2AM_SANITIZED_TESTS_config config/test_config.cpp)
set(C2AM_SANITIZED_TESTS_image image/test_codecs.cpp image/test_resample_window.cpp)
set(C2AM_SANITIZED_TESTS_data data/test_shards.cpp)  # not the loader's (LibTorch)
set(C2AM_SANITIZED_TESTS_cams cams/test_cam_store.cpp cams/test_map_store.cpp cams/test_npy.cpp)
set(C2AM_SANITIZED_TESTS_synth synth/test_synth.cpp)
set(C2AM_SANITIZED_TESTS_data_prep data_prep/test_pack.cpp data_prep/test_sources.cpp)
set(C2AM_SANITIZED_TESTS_eval eval/test_boxes.cpp eval/test_metrics.cpp eval/test_heatmap.cpp
                              eval/test_protocols.cpp)  # not extract-boxes' (LibTorch)
set(C2AM_SANITIZED_TESTS_monitor monitor/test_crc32c.cpp monitor/test_event_writer.cpp
                                 monitor/test_metrics_scalars.cpp monitor/test_report.cpp)
set(C2AM_SANITIZED_TESTS_wsss wsss/test_dense_crf.cpp wsss/test_seg_metrics.cpp)  # not multi-scale's (LibTorch)
