# NixOS module: services.rootlet.
#
#   imports = [ ./contrib/packaging/nixos/module.nix ];
#   services.rootlet.enable = true;
#   services.rootlet.waitOnline.timeout = "60s";
#
# It installs the package, the user generator (every user's manager runs it: quadlet
# sources in ~/.config/containers/systemd/ become user units) and rootlet's user units
# (rootlet-wait-online.service; rootlet-regenerate.path/.service stay disabled, the
# generator makes them unnecessary). Combine with virtualisation.podman.enable = true and,
# for boot without login, users.users.<name>.linger = true.
{ config, lib, pkgs, options, ... }:

let
  cfg = config.services.rootlet;
  generator = "${cfg.package}/lib/systemd/user-generators/rootlet-user-generator";
  hasUserGenerators = options.systemd.user ? generators;
in
{
  options.services.rootlet = {
    enable = lib.mkEnableOption "rootlet: rootless containers and daemons as reliable systemd user services";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.rootlet or (pkgs.callPackage ./package.nix { });
      defaultText = lib.literalExpression "pkgs.rootlet or (pkgs.callPackage ./package.nix { })";
      description = "The rootlet package to use.";
    };

    waitOnline.timeout = lib.mkOption {
      type = lib.types.str;
      default = "90s";
      example = "30s";
      description = ''
        How long rootlet-wait-online.service waits for the system's network-online.target
        (or, when nothing will ever start that target, for a default route) before giving
        up. systemd time syntax.
      '';
    };
  };

  config = lib.mkIf cfg.enable (lib.mkMerge [
    {
      environment.systemPackages = [ cfg.package ];
      # Links the package's lib/systemd/user units into the user unit path.
      systemd.packages = [ cfg.package ];

      systemd.user.services.rootlet-wait-online = {
        overrideStrategy = "asDropin";
        serviceConfig.ExecStart = [
          ""
          "${cfg.package}/bin/rootlet-wait-online --timeout ${cfg.waitOnline.timeout}"
        ];
      };
    }
    (if hasUserGenerators then {
      systemd.user.generators.rootlet-user-generator = generator;
    } else {
      environment.etc."systemd/user-generators/rootlet-user-generator".source = generator;
    })
  ]);
}
