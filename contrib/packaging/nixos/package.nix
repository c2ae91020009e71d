# rootlet built from this source tree, installed with the project's Makefile.
# Used by module.nix when nixpkgs has no `rootlet` of its own.
{ lib, rustPlatform, gnumake }:

rustPlatform.buildRustPackage {
  pname = "rootlet";
  version = "0.1.0";
  src = lib.cleanSource ../../..;
  cargoLock.lockFile = ../../../Cargo.lock;
  nativeBuildInputs = [ gnumake ];

  # buildRustPackage puts every binary in $out/bin; the Makefile moves each where systemd
  # and users look for it (the generator to lib/systemd/user-generators) and adds the unit
  # templates (@bindir@ filled), man pages and completions.
  postInstall = ''
    mkdir -p bins
    mv $out/bin/* bins/
    make install PREFIX=$out TARGETDIR=bins
  '';

  meta = {
    description = "Rootless containers and daemons as reliable systemd user services";
    license = with lib.licenses; [ mit asl20 ];
    platforms = lib.platforms.linux;
    mainProgram = "rootlet";
  };
}
