"""Build idp_kit from `settings.ini`, the one source of its metadata (nbdev's template imports pkg_resources, which setuptools no longer ships)."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read(Path(__file__).parent / "settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]

licenses = {"apache2": "Apache-2.0"}  # SPDX expressions; setuptools deprecates License classifiers
statuses = ["1 - Planning", "2 - Pre-Alpha", "3 - Alpha", "4 - Beta", "5 - Production/Stable", "6 - Mature", "7 - Inactive"]
req = lambda key: cfg.get(key, "").split()

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    url=cfg["git_url"],
    license=licenses[cfg["license"]],
    keywords=cfg["keywords"].split(),
    classifiers=[
        "Development Status :: " + statuses[int(cfg["status"]) - 1],
        "Intended Audience :: " + cfg["audience"].title(),
        "Natural Language :: " + cfg["language"].title(),
        "Programming Language :: Python :: 3",
    ],
    python_requires=">=" + cfg["min_python"],
    packages=setuptools.find_namespace_packages(include=[cfg["lib_name"], cfg["lib_name"] + ".*"]),  # sql/, samples/ and infra/ are data folders
    package_data={cfg["lib_name"]: ["*.json", "sql/*.sql", "sql/queries/*.sql", "sql/monitoring/*.sql", "samples/*", "samples/expected/*", "samples/routing/*", "samples/routing/broken/*", "infra/*.md", "infra/**/*.tf", "infra/**/*.tftpl", "infra/**/*.yaml", "infra/**/*.md"]},
    include_package_data=True,
    install_requires=req("requirements"),
    extras_require={"api": req("api_requirements"), "databricks": req("databricks_requirements"),
                    "local": req("local_requirements") + req("api_requirements") + req("databricks_requirements") + req("ocr_requirements"),
                    "docling": req("docling_requirements"), "ocr": req("ocr_requirements"),
                    "ocr_rapid": req("ocr_rapid_requirements"), "dev": req("dev_requirements")},
    entry_points={"console_scripts": req("console_scripts"), "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
                  "idp_kit.enrichers": [f"{n} = idp_kit.enrichers.{n}:hook" for n in ("classification", "language", "invoice", "pii")]},
    zip_safe=False,
)
