# short.cmake - one short fuzzing run, for ctest (see CMakeLists.txt).
#
#   cmake -DFUZZER=<binary> -DCORPUS=<seed dir> -DWORK=<scratch dir>
#         -DSECONDS=<n> -P short.cmake
#
# Copies the seed corpus to WORK/corpus, so the source tree is only read,
# runs the fuzzer over it for SECONDS, and fails on any finding; crash
# inputs land in WORK/ (crash-*, leak-*, timeout-*, oom-*).
foreach(var FUZZER CORPUS WORK SECONDS)
	if(NOT DEFINED ${var})
		message(FATAL_ERROR "short.cmake: ${var} is not set")
	endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")
file(GLOB seeds "${CORPUS}/*")
if(seeds)
	file(COPY ${seeds} DESTINATION "${WORK}/corpus")
endif()

execute_process(
	COMMAND "${FUZZER}"
		-max_total_time=${SECONDS}
		-timeout=5
		-rss_limit_mb=1024
		-print_final_stats=1
		"-artifact_prefix=${WORK}/"
		"${WORK}/corpus"
	RESULT_VARIABLE rc)

if(NOT rc EQUAL 0)
	file(GLOB found "${WORK}/crash-*" "${WORK}/leak-*" "${WORK}/timeout-*"
		"${WORK}/oom-*")
	list(JOIN found "\n  " inputs)
	message(FATAL_ERROR "fuzzer exited with ${rc}; saved inputs:\n  "
		"${inputs}\nreproduce: ${FUZZER} <input>")
endif()
