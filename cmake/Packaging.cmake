# Install rules, the man page, and the Debian package (CPack). Included by the top-level
# CMakeLists.txt after src/ and tests/.
#
#   cmake --install build/release [--prefix /usr/local]   # binary, unit, config, docs, man page
#   scripts/package.sh                                    # -> natgw_<version>_amd64.deb
#
# What goes where (prefix /usr in the package, /usr/local by default for cmake --install):
#   <prefix>/bin/natgw
#   <prefix>/lib/systemd/system/natgw.service   ExecStart= and the docs link rewritten to <prefix>
#   /etc/natgw/natgw.yaml                       examples/natgw.yaml; a conffile in the package;
#                                               cmake --install never overwrites an existing one
#   <prefix>/share/doc/natgw/                   README.md, README.deploy.md, configuration.md,
#                                               examples/, prometheus/, grafana/
#   <prefix>/share/man/man1/natgw.1.gz          generated from the binary's --help
include(GNUInstallDirs)

if(NOT TARGET natgw)
  message(STATUS "natgw packaging: no natgw target in this build (NATGW_SKIP_DIRS); no install rules")
  return()
endif()

set(NATGW_CONFIG_DIR "/etc/natgw" CACHE PATH
    "Absolute directory of natgw.yaml for cmake --install and the package (the unit reads it there)")
set(NATGW_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Directory of natgw.service, relative to the install prefix (or absolute)")
set(NATGW_PACKAGE_MAINTAINER "natgw maintainers <maintainers@natgw.invalid>" CACHE STRING
    "Maintainer field of the Debian package")

set(_natgw_deploy ${PROJECT_SOURCE_DIR}/deploy)

# --- Man page: scripts/man-page.py turns `natgw --help` and every `natgw COMMAND --help` into
# roff, so the page says exactly what --help says. Rebuilt whenever natgw is relinked.
find_package(Python3 COMPONENTS Interpreter QUIET)
find_program(NATGW_GZIP gzip)
set(_natgw_man ${CMAKE_BINARY_DIR}/man/natgw.1)
if(Python3_Interpreter_FOUND AND NATGW_GZIP AND NOT CMAKE_CROSSCOMPILING)
  add_custom_command(
    OUTPUT ${_natgw_man} ${_natgw_man}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/man-page.py $<TARGET_FILE:natgw> ${_natgw_man}
    # -n: no name or time stamp in the .gz (reproducible); -k: keep natgw.1 for tests and `man -l`.
    COMMAND ${NATGW_GZIP} -9 -n -k -f ${_natgw_man}
    DEPENDS natgw ${PROJECT_SOURCE_DIR}/scripts/man-page.py
    COMMENT "Generating the natgw(1) man page from natgw --help"
    VERBATIM)
  add_custom_target(natgw_man ALL DEPENDS ${_natgw_man}.gz)
  if(TARGET deploy_kit_test)  # tests/deploy checks the page
    add_dependencies(deploy_kit_test natgw_man)
  endif()
  install(FILES ${_natgw_man}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(WARNING "natgw packaging: python3 or gzip missing: no man page in this build")
endif()

# --- Binary.
install(TARGETS natgw RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# --- systemd unit. Written at install time, when the real prefix is known (cpack installs with
# prefix /usr into a staging DESTDIR): the unit names /usr/bin/natgw, /etc/natgw and
# /usr/share/doc/natgw; those become the installed paths.
install(CODE "
  set(_natgw_unit_src [==[${_natgw_deploy}/systemd/natgw.service]==])
  set(_natgw_stage [==[${CMAKE_BINARY_DIR}/install-stage]==])
  set(_natgw_bindir [==[${CMAKE_INSTALL_BINDIR}]==])
  set(_natgw_docdir [==[${CMAKE_INSTALL_DOCDIR}]==])
  set(_natgw_unitdir [==[${NATGW_SYSTEMD_UNIT_DIR}]==])
  set(_natgw_config_dir [==[${NATGW_CONFIG_DIR}]==])
  set(_natgw_example [==[${PROJECT_SOURCE_DIR}/examples/natgw.yaml]==])
")
install(CODE [==[
  foreach(_d bindir docdir unitdir)
    if(NOT IS_ABSOLUTE "${_natgw_${_d}}")
      set(_natgw_${_d} "${CMAKE_INSTALL_PREFIX}/${_natgw_${_d}}")
    endif()
  endforeach()
  file(READ "${_natgw_unit_src}" _natgw_unit)
  string(REPLACE "/usr/bin/natgw" "${_natgw_bindir}/natgw" _natgw_unit "${_natgw_unit}")
  string(REPLACE "/usr/share/doc/natgw" "${_natgw_docdir}" _natgw_unit "${_natgw_unit}")
  string(REPLACE "/etc/natgw/" "${_natgw_config_dir}/" _natgw_unit "${_natgw_unit}")
  file(WRITE "${_natgw_stage}/natgw.service" "${_natgw_unit}")
  file(INSTALL DESTINATION "${_natgw_unitdir}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "${_natgw_stage}/natgw.service")

  # The configuration: installed once. A later `cmake --install` keeps the operator's file (the
  # package's copy is a conffile, which dpkg handles the same way).
  if(EXISTS "$ENV{DESTDIR}${_natgw_config_dir}/natgw.yaml")
    message(STATUS "Keeping: $ENV{DESTDIR}${_natgw_config_dir}/natgw.yaml (the example is in ${_natgw_docdir}/examples)")
  else()
    file(INSTALL DESTINATION "${_natgw_config_dir}" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         FILES "${_natgw_example}")
  endif()
]==])

# --- Documentation and the monitoring kit.
set(_natgw_doc ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${_natgw_doc})
install(FILES ${_natgw_deploy}/debian/copyright DESTINATION ${_natgw_doc})
install(FILES ${_natgw_deploy}/README.md DESTINATION ${_natgw_doc} RENAME README.deploy.md)
if(EXISTS ${PROJECT_SOURCE_DIR}/src/control/README.md)
  install(FILES ${PROJECT_SOURCE_DIR}/src/control/README.md DESTINATION ${_natgw_doc} RENAME configuration.md)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/examples/natgw.yaml DESTINATION ${_natgw_doc}/examples)
install(FILES ${_natgw_deploy}/prometheus/natgw-alerts.yml ${_natgw_deploy}/prometheus/natgw-alerts.test.yml
              ${_natgw_deploy}/prometheus/README.md
        DESTINATION ${_natgw_doc}/prometheus)
install(FILES ${_natgw_deploy}/grafana/natgw-dashboard.json DESTINATION ${_natgw_doc}/grafana)

# --- Debian package: cpack -G DEB in the build tree (scripts/package.sh does it all).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME natgw)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "natgw")
set(CPACK_PACKAGE_CONTACT "${NATGW_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "software NAT gateway with the limits and metrics of a managed cloud NAT gateway")
# The extended description (CPack puts the summary above it).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "natgw gives the hosts of private subnets outbound connectivity through up to 16
public IPv4 addresses, with the behaviour, limits and observability of Azure NAT
Gateway: 64,512 SNAT ports per public IP, 50,000 connections per IP and
destination, port hold-down, idle timeouts, Prometheus metrics.
.
The package installs the natgw binary, natgw.service (not enabled: edit
/etc/natgw/natgw.yaml, then systemctl enable --now natgw), the man page, and a
monitoring kit (Prometheus alert rules, Grafana dashboard) in
/usr/share/doc/natgw.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # natgw_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from the libraries the binary links (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, ethtool")
# The configuration is a conffile: dpkg keeps the operator's edits on upgrade and asks before
# replacing them; it goes on purge.
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${NATGW_CONFIG_DIR}/natgw.yaml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_BINARY_DIR}/debian/conffiles;${_natgw_deploy}/debian/postinst;${_natgw_deploy}/debian/prerm;${_natgw_deploy}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Install with the real prefix into a staging DESTDIR, so that paths written at install time (the
# unit's ExecStart=) and absolute destinations (/etc/natgw) are right in the package.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
include(CPack)
